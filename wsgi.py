from app import create_app; app = create_app()  # noqa: E702, I001 -- the one-line WSGI entry point

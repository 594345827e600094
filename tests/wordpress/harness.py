"""A real WordPress for the end-to-end suite: Debian's ``wordpress`` package copied into a
temporary directory with its own wp-config.php, a throwaway MariaDB database, PHP's built-in
server on a free loopback port, and headless Chromium driven through Selenium.

Nothing here downloads anything: the browser and its driver are Debian's (``chromium``,
``chromium-driver``) and Selenium Manager is told to stay offline.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

WORDPRESS_SRC = Path("/usr/share/wordpress")
MARIADBD = Path("/usr/sbin/mariadbd")
MARIADB_SOCKET = Path("/run/mysqld/mysqld.sock")
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# FORECOURT_PLUGIN_DIR points the suite at a plugin checkout elsewhere (e.g. another branch's).
PLUGIN_DIR = Path(os.environ.get("FORECOURT_PLUGIN_DIR")
                  or Path(__file__).resolve().parents[2] / "wordpress" / "forecourt")
INSTALL_HINT = ("apt-get install -y wordpress php-cli php-mysql php-curl php-gd php-xml php-mbstring "
                "mariadb-server chromium chromium-driver   (.ci/run does this)")
ADMIN_USER = "dealer"
ADMIN_PASSWORD = "correct-horse-battery-staple"
SKIP_ENV = "FORECOURT_SKIP_WORDPRESS"


class HarnessError(RuntimeError):
    """Something the suite needs is missing or did not start: the suite fails, loudly."""


def missing_prerequisites() -> list[str]:
    """What the suite needs and this machine lacks, each with what provides it."""
    found = []
    checks = [
        (WORDPRESS_SRC / "wp-load.php", "WordPress (Debian package wordpress)"),
        (MARIADBD, "MariaDB server (mariadb-server)"),
        (CHROMIUM, "Chromium (chromium)"),
        (CHROMEDRIVER, "ChromeDriver (chromium-driver)"),
    ]
    for path, what in checks:
        if not path.exists():
            found.append(f"{what}: {path} not found")
    if shutil.which("php") is None:
        found.append("PHP CLI (php-cli): php not on PATH")
    else:
        modules = subprocess.run(["php", "-m"], capture_output=True, text=True, timeout=30).stdout.lower()
        for module, package in (("mysqli", "php-mysql"), ("curl", "php-curl"), ("gd", "php-gd"),
                                ("xml", "php-xml"), ("mbstring", "php-mbstring")):
            if module not in modules.split():
                found.append(f"PHP extension {module} ({package})")
    if shutil.which("mariadb") is None and shutil.which("mysql") is None:
        found.append("MariaDB client (mariadb-client, comes with mariadb-server)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        found.append("Selenium (pip install -r requirements-dev.txt)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- MariaDB -----------------------------------------------------------------------------------


def _sql(statement: str) -> str:
    client = shutil.which("mariadb") or shutil.which("mysql")
    result = subprocess.run([client, "--protocol=socket", f"--socket={MARIADB_SOCKET}", "-uroot", "-N",
                             "-e", statement], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise HarnessError(f"MariaDB refused {statement.split()[0]}: {result.stderr.strip()}")
    return result.stdout


def ensure_mariadb(timeout: float = 60.0) -> None:
    """Start mariadbd if nothing listens on its socket (as Debian's service would), then wait."""
    if _mariadb_answers():
        return
    MARIADB_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    shutil.chown(MARIADB_SOCKET.parent, "mysql", "mysql")
    subprocess.run(["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", str(MARIADBD)],
                   check=True, timeout=30, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not _mariadb_answers():
        if time.monotonic() > deadline:
            raise HarnessError(f"MariaDB did not answer on {MARIADB_SOCKET} within {timeout:.0f}s")
        time.sleep(0.2)


def _mariadb_answers() -> bool:
    if not MARIADB_SOCKET.exists():
        return False
    try:
        _sql("SELECT 1")
    except HarnessError:
        return False
    return True


@dataclass
class Database:
    name: str
    user: str
    password: str

    @classmethod
    def create(cls) -> Database:
        suffix = secrets.token_hex(4)
        db = cls(name=f"fc_wp_{suffix}", user=f"fc_wp_{suffix}", password=secrets.token_urlsafe(18))
        _sql(f"CREATE DATABASE `{db.name}` CHARACTER SET utf8mb4; "
             f"CREATE USER '{db.user}'@'localhost' IDENTIFIED BY '{db.password}'; "
             f"GRANT ALL ON `{db.name}`.* TO '{db.user}'@'localhost';")
        return db

    def drop(self) -> None:
        _sql(f"DROP DATABASE IF EXISTS `{self.name}`; DROP USER IF EXISTS '{self.user}'@'localhost';")


# --- WordPress ---------------------------------------------------------------------------------

WP_CONFIG = """<?php
// Written by tests/wordpress/harness.py for one test session.
define('DB_NAME', '{db.name}');
define('DB_USER', '{db.user}');
define('DB_PASSWORD', '{db.password}');
define('DB_HOST', 'localhost:{socket}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$table_prefix = 'wp_';
define('WP_HOME', '{url}');
define('WP_SITEURL', '{url}');
define('WP_ENVIRONMENT_TYPE', 'local');  // application passwords over plain HTTP on loopback
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('DISALLOW_FILE_MODS', {disallow_file_mods});  // no updates; uploads only where a test installs a zip
define('WP_HTTP_BLOCK_EXTERNAL', true);  // loopback only: Forecourt and cron are on 127.0.0.1
define('FS_METHOD', 'direct');
define('WP_DEFAULT_THEME', 'forecourt-test');  // Debian ships no theme (they are Recommends)
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', '{root}/debug.log');
define('WP_DEBUG_DISPLAY', false);
{extra}
foreach ({keys} as $i => $k) {{ define($k, '{salt}' . $i); }}
if (!defined('ABSPATH')) {{ define('ABSPATH', __DIR__ . '/'); }}
require_once ABSPATH . 'wp-settings.php';
"""

ROUTER = """<?php
// php -S has no rewrites: serve real files, send everything else (wp-json, pretty links) to WordPress.
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path !== '/' && is_file(__DIR__ . $path)) { return false; }
if (substr($path, -4) === '.php' && is_file(__DIR__ . $path)) { return false; }
$_SERVER['SCRIPT_NAME'] = '/index.php';
require __DIR__ . '/index.php';
"""

# A stand-in for Inventory Presser (not packaged for Debian): its post type, the meta keys the
# inventory-presser preset reads, and its availability taxonomy, all exposed to the REST API.
CARS_MU_PLUGIN = """<?php
/* Plugin Name: Test cars (Inventory Presser-like) */
add_action('init', function () {
    register_post_type('inventory_vehicle', [
        'label' => 'Vehicles', 'public' => true, 'show_in_rest' => true, 'rest_base' => 'inventory_vehicle',
        'supports' => ['title', 'editor', 'thumbnail', 'custom-fields'],
    ]);
    register_post_meta('attachment', 'inventory_presser_photo_number', [
        'type' => 'string', 'single' => true, 'show_in_rest' => true,
    ]);
    register_taxonomy('availability', 'inventory_vehicle', ['label' => 'Availability', 'show_in_rest' => true]);
    foreach (['make', 'model', 'trim', 'year', 'price', 'odometer', 'odometer_units', 'vin', 'stock_number',
              'color', 'transmission', 'fuel', 'body_style', 'condition'] as $key) {
        register_post_meta('inventory_vehicle', 'inventory_presser_' . $key, [
            'type' => 'string', 'single' => true, 'show_in_rest' => true,
        ]);
    }
});
// Inventory Presser edits cars on the classic screen with its own meta box; so does this one.
add_filter('use_block_editor_for_post_type', function ($use, $type) {
    return $type === 'inventory_vehicle' ? false : $use;
}, 10, 2);
add_action('add_meta_boxes_inventory_vehicle', function () {
    add_meta_box('fc-test-vehicle', 'Vehicle', function ($post) {
        wp_nonce_field('fc-test-vehicle', 'fc_test_vehicle_nonce');
        printf('<label>Price <input id="fc-test-price" name="fc_test_price" value="%s"></label>',
            esc_attr(get_post_meta($post->ID, 'inventory_presser_price', true)));
    });
});
add_action('save_post_inventory_vehicle', function ($post_id) {
    if (isset($_POST['fc_test_price']) && wp_verify_nonce($_POST['fc_test_vehicle_nonce'] ?? '', 'fc-test-vehicle')) {
        update_post_meta($post_id, 'inventory_presser_price', sanitize_text_field(wp_unslash($_POST['fc_test_price'])));
    }
});
// WordPress's "safe" HTTP functions allow only ports 80, 443 and 8080 off the site's own port;
// in this suite Forecourt listens on another loopback port.
add_filter('http_allowed_safe_ports', function ($ports, $host, $url) {
    $port = parse_url($url, PHP_URL_PORT);
    return ($host === '127.0.0.1' && $port) ? array_merge($ports, [(int) $port]) : $ports;
}, 10, 3);
"""

# Debian's wordpress package ships no theme (wordpress-theme-* are only Recommends), and
# without one wp-admin dies with "The theme directory ... does not exist". A minimal classic
# theme renders car pages, so the enquiry shortcode can be tried from the front end.
THEME_STYLE = """/*
Theme Name: Forecourt Test
Description: The smallest classic theme, for the real-WordPress suite.
Version: 1.0
*/
"""

THEME_INDEX = """<!DOCTYPE html>
<html <?php language_attributes(); ?>><head><meta charset="<?php bloginfo('charset'); ?>"><?php wp_head(); ?></head>
<body <?php body_class(); ?>><?php wp_body_open(); ?>
<main id="main">
<?php while (have_posts()) { the_post(); ?>
<article id="post-<?php the_ID(); ?>" <?php post_class(); ?>><h1><?php the_title(); ?></h1>
<div class="entry-content"><?php the_content(); ?></div></article>
<?php } ?>
</main><?php wp_footer(); ?></body></html>
"""

INSTALL_PHP = """<?php
// Installs the site once: php install.php <root>
define('WP_INSTALLING', true);
$_SERVER['HTTP_HOST'] = '127.0.0.1';
require $argv[1] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$result = wp_install('Forecourt Test Motors', '{user}', 'dealer@example.test', false, '', '{password}');
update_option('permalink_structure', '/%postname%/');
$user = get_user_by('login', '{user}');
list($app_password) = WP_Application_Passwords::create_new_application_password(
    $user->ID, ['name' => 'forecourt-tests']);
echo json_encode(['user_id' => $user->ID, 'app_password' => $app_password]);
"""


@dataclass
class WordPress:
    """One installed WordPress site served over loopback."""

    root: Path
    url: str
    db: Database
    app_password: str = ""
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def rest(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.auth = (ADMIN_USER, self.app_password)
        return session

    def php(self, code: str, timeout: float = 60) -> str:
        """Run PHP inside the installed site (for setup the admin screens would do slowly)."""
        script = self.root / f"_run_{secrets.token_hex(4)}.php"
        script.write_text("<?php\n$_SERVER['HTTP_HOST'] = '127.0.0.1';\n"
                          f"require '{self.root}/wp-load.php';\n{code}\n")
        try:
            result = subprocess.run(["php", str(script)], capture_output=True, text=True, timeout=timeout,
                                    stdin=subprocess.DEVNULL, cwd=self.root)
        finally:
            script.unlink()
        if result.returncode != 0:
            raise HarnessError(f"PHP failed ({result.returncode}): {result.stdout[-2000:]}{result.stderr[-2000:]}")
        return result.stdout

    def flush_outbox(self) -> requests.Response:
        """The plugin's synchronous flush (the admin tool the tests use instead of waiting)."""
        response = self.rest.post(f"{self.url}/wp-json/forecourt/v1/flush", timeout=120)
        assert response.status_code == 200, response.text[:500]
        return response

    def outbox(self) -> list[dict]:
        import json

        out = self.php("global $wpdb; echo json_encode($wpdb->get_results("
                       "\"SELECT id, post_id, event, status, attempts FROM {$wpdb->prefix}forecourt_outbox "
                       "ORDER BY id\"));")
        return json.loads(out[out.index("["):])

    def run_cron(self) -> None:
        """What a visitor's page load would trigger: WP-Cron's due events, synchronously."""
        requests.get(f"{self.url}/wp-cron.php?doing_wp_cron={time.time():.4f}", timeout=60)

    def debug_log(self) -> str:
        path = self.root / "debug.log"
        return path.read_text(errors="replace") if path.exists() else ""


def build_site(root: Path, db: Database, port: int, *, extra_config: str = "", with_plugin: bool = True,
               file_mods: bool = False) -> Path:
    """Copy WordPress (a copy, not symlinks: PHP resolves __FILE__ through them and would load
    Debian's /etc/wordpress configuration) and write this session's configuration."""
    shutil.copytree(WORDPRESS_SRC, root, symlinks=True, ignore=shutil.ignore_patterns("wp-config.php"))
    content = root / "wp-content"
    if content.is_symlink():  # Debian points it at /var/lib/wordpress on some releases
        content.unlink()
        shutil.copytree(WORDPRESS_SRC / "wp-content", content, symlinks=True)
    (content / "uploads").mkdir(exist_ok=True)
    (content / "mu-plugins").mkdir(exist_ok=True)
    (content / "mu-plugins" / "forecourt-test-cars.php").write_text(CARS_MU_PLUGIN)
    theme = content / "themes" / "forecourt-test"
    theme.mkdir(parents=True, exist_ok=True)
    (theme / "style.css").write_text(THEME_STYLE)
    (theme / "index.php").write_text(THEME_INDEX)
    plugins = content / "plugins"
    if with_plugin and PLUGIN_DIR.exists():
        (plugins / "forecourt").symlink_to(PLUGIN_DIR, target_is_directory=True)
    salt_keys = ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
                 "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")
    keys = "[" + ", ".join(f"'{k}'" for k in salt_keys) + "]"
    (root / "wp-config.php").write_text(WP_CONFIG.format(
        db=db, socket=MARIADB_SOCKET, url=f"http://127.0.0.1:{port}", root=root, extra=extra_config,
        keys=keys, salt=secrets.token_hex(24), disallow_file_mods="false" if file_mods else "true"))
    (root / "router.php").write_text(ROUTER)
    return root


def install(site: WordPress) -> None:
    script = site.root / "_install.php"
    script.write_text(INSTALL_PHP.format(user=ADMIN_USER, password=ADMIN_PASSWORD))
    result = subprocess.run(["php", str(script), str(site.root)], capture_output=True, text=True, timeout=180,
                            stdin=subprocess.DEVNULL, cwd=site.root)
    script.unlink()
    if result.returncode != 0 or "app_password" not in result.stdout:
        raise HarnessError(f"wp_install() failed: {result.stdout[-2000:]} {result.stderr[-2000:]}")
    import json

    site.app_password = json.loads(result.stdout[result.stdout.index("{"):])["app_password"]
    # Pretty links for the cars' post type (registered on init, after the install wrote its rules).
    site.php("flush_rewrite_rules(false);")


@contextmanager
def serve(site: WordPress, port: int, timeout: float = 30.0) -> Iterator[WordPress]:
    """php -S with several workers, so WordPress's loopback requests (spawned cron, the
    plugin's own REST calls) do not wait on the single request that made them."""
    env = {**os.environ, "PHP_CLI_SERVER_WORKERS": "4"}
    log = (site.root / "php-server.log").open("wb")
    # Its own process group: php -S forks the workers, and they outlive a master that is only
    # sent SIGTERM; the whole group is stopped below.
    site.process = subprocess.Popen(["php", "-S", f"127.0.0.1:{port}", "-t", str(site.root),
                                     str(site.root / "router.php")],
                                    cwd=site.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(site.url + "/wp-login.php", timeout=10)
                break
            except requests.ConnectionError:
                if site.process.poll() is not None or time.monotonic() > deadline:
                    log_text = (site.root / "php-server.log").read_text()[-2000:]
                    raise HarnessError("php -S did not start: " + log_text) from None
                time.sleep(0.1)
        yield site
    finally:
        _stop_group(site.process)
        log.close()


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (master and workers), SIGKILL if it lingers."""
    import signal

    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)  # anyone of the group left?
            except ProcessLookupError:
                process.wait(timeout=5)
                return
            process.poll()
            time.sleep(0.05)
    process.poll()


# --- Chromium ----------------------------------------------------------------------------------


def chromium(download_dir: Path):
    """Headless Debian Chromium through Debian's chromedriver; Selenium Manager never runs."""
    os.environ["SE_OFFLINE"] = "true"  # belt and braces: the explicit paths below already skip it
    os.environ["SE_AVOID_STATS"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--no-first-run", "--disable-background-networking",
                f"--user-data-dir={download_dir / 'profile'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver


def login(driver, site: WordPress) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(site.url + "/wp-login.php")
    WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.ID, "user_login")))
    driver.find_element(By.ID, "user_login").send_keys(ADMIN_USER)
    driver.find_element(By.ID, "user_pass").send_keys(ADMIN_PASSWORD)
    driver.find_element(By.ID, "wp-submit").click()
    WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.ID, "wpadminbar")))


@contextmanager
def running_site(parent: Path, **build: object) -> Iterator[WordPress]:
    """A whole site (its own database, copy, port and install), torn down afterwards.
    ``build`` goes to ``build_site`` (extra_config, with_plugin, file_mods)."""
    ensure_mariadb()
    db = Database.create()
    try:
        port = free_port()
        root = build_site(parent / "site", db, port, **build)
        site = WordPress(root=root, url=f"http://127.0.0.1:{port}", db=db)
        with serve(site, port):
            install(site)
            yield site
    finally:
        db.drop()

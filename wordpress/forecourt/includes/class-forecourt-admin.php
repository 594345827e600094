<?php
/**
 * The dealer's screens: the Marketplaces column on the car list, the Marketplaces meta box on
 * the edit screen, Sync Now (per car and as a bulk action) and the scripts that fill them.
 *
 * @package Forecourt
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * wp-admin integration.
 */
class Forecourt_Admin {

	const COLUMN = 'forecourt_marketplaces';
	const ACTION = 'forecourt_sync_now';
	const MAX_BULK = 100;

	/**
	 * Events (to queue a car's current state).
	 *
	 * @var Forecourt_Events
	 */
	private $events;

	/**
	 * Outbox.
	 *
	 * @var Forecourt_Outbox
	 */
	private $outbox;

	/**
	 * Constructor.
	 *
	 * @param Forecourt_Events $events Events.
	 * @param Forecourt_Outbox $outbox Outbox.
	 */
	public function __construct( $events, $outbox ) {
		$this->events = $events;
		$this->outbox = $outbox;
	}

	/**
	 * Hooks.
	 */
	public function register() {
		add_action( 'admin_init', array( $this, 'register_post_type_hooks' ) );
		add_action( 'add_meta_boxes', array( $this, 'meta_box' ), 10, 2 );
		add_action( 'admin_post_' . self::ACTION, array( $this, 'handle_sync_now' ) );
		add_action( 'admin_enqueue_scripts', array( $this, 'assets' ) );
		add_action( 'admin_notices', array( $this, 'notices' ) );
		add_action( 'admin_footer-post.php', array( $this, 'sync_now_form' ) );
	}

	/**
	 * Column and bulk action on each car post type's list.
	 */
	public function register_post_type_hooks() {
		foreach ( Forecourt_Settings::post_types() as $type ) {
			add_filter( "manage_{$type}_posts_columns", array( $this, 'columns' ) );
			add_action( "manage_{$type}_posts_custom_column", array( $this, 'column' ), 10, 2 );
			add_filter( "bulk_actions-edit-{$type}", array( $this, 'bulk_actions' ) );
			add_filter( "handle_bulk_actions-edit-{$type}", array( $this, 'handle_bulk' ), 10, 3 );
		}
	}

	/**
	 * Add "Marketplaces" before the date column.
	 *
	 * @param array $columns Columns.
	 * @return array
	 */
	public function columns( $columns ) {
		$out = array();
		foreach ( $columns as $key => $label ) {
			if ( 'date' === $key ) {
				$out[ self::COLUMN ] = __( 'Marketplaces', 'forecourt' );
			}
			$out[ $key ] = $label;
		}
		if ( ! isset( $out[ self::COLUMN ] ) ) {
			$out[ self::COLUMN ] = __( 'Marketplaces', 'forecourt' );
		}
		return $out;
	}

	/**
	 * A placeholder the script fills: the list never waits on Forecourt.
	 *
	 * @param string $column  Column.
	 * @param int    $post_id Car.
	 */
	public function column( $column, $post_id ) {
		if ( self::COLUMN !== $column ) {
			return;
		}
		printf(
			'<div class="forecourt-marketplaces" data-post-id="%d"><span class="forecourt-loading">%s</span></div>',
			(int) $post_id,
			esc_html__( 'Checking…', 'forecourt' )
		);
	}

	/**
	 * Bulk "Sync Now".
	 *
	 * @param array $actions Actions.
	 * @return array
	 */
	public function bulk_actions( $actions ) {
		if ( Forecourt_Settings::is_configured() ) {
			$actions[ self::ACTION ] = __( 'Sync Now (Forecourt)', 'forecourt' );
		}
		return $actions;
	}

	/**
	 * Bulk Sync Now (WordPress checked the bulk-posts nonce).
	 *
	 * @param string $redirect Where to go back.
	 * @param string $action   Action.
	 * @param int[]  $post_ids Selected cars.
	 * @return string
	 */
	public function handle_bulk( $redirect, $action, $post_ids ) {
		if ( self::ACTION !== $action ) {
			return $redirect;
		}
		$allowed = array();
		foreach ( array_slice( (array) $post_ids, 0, self::MAX_BULK ) as $id ) {
			if ( current_user_can( 'edit_post', (int) $id ) ) {
				$allowed[] = (int) $id;
			}
		}
		$this->store_notice( $this->sync_now( $allowed ) );
		return add_query_arg( 'forecourt_notice', '1', remove_query_arg( 'forecourt_notice', $redirect ) );
	}

	/**
	 * Sync Now from the edit screen.
	 */
	public function handle_sync_now() {
		$post_id = isset( $_POST['post_id'] ) ? absint( $_POST['post_id'] ) : 0;
		check_admin_referer( self::ACTION . '_' . $post_id );
		if ( ! $post_id || ! current_user_can( 'edit_post', $post_id ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to sync this car.', 'forecourt' ), 403 );
		}
		$this->store_notice( $this->sync_now( array( $post_id ) ) );
		$back = add_query_arg(
			array(
				'post'             => $post_id,
				'action'           => 'edit',
				'forecourt_notice' => '1',
			),
			admin_url( 'post.php' )
		);
		wp_safe_redirect( $back );
		exit;
	}

	/**
	 * Sync Now: send each car's current state (delivering what waits for it first), then ask
	 * Forecourt to push it to the marketplaces now. Runs only on a dealer's click.
	 *
	 * @param int[] $post_ids Cars.
	 * @return array{type: string, message: string}
	 */
	public function sync_now( $post_ids ) {
		if ( ! Forecourt_Settings::is_configured() ) {
			return array(
				'type'    => 'error',
				'message' => __( 'Forecourt is not set up yet: Settings → Forecourt.', 'forecourt' ),
			);
		}
		$queued = $this->events->queue_now( $post_ids );
		if ( ! $queued ) {
			return array(
				'type'    => 'error',
				'message' => __( 'Sync Now: none of the selected posts is a saved car.', 'forecourt' ),
			);
		}
		$this->outbox->flush( true, 20, $queued );
		$waiting = $this->outbox->pending_for( $queued );
		$client  = new Forecourt_Client();
		$synced  = 0;
		$errors  = array();
		foreach ( $queued as $id ) {
			Forecourt_Status::forget( $id );
			if ( isset( $waiting[ $id ] ) ) {
				$errors[] = $waiting[ $id ]['error'];
				continue;
			}
			$response = $client->sync_now( (string) $id );
			if ( is_wp_error( $response ) ) {
				$errors[] = $response->get_error_message();
			} elseif ( $response['code'] >= 200 && $response['code'] < 300 ) {
				++$synced;
			} else {
				$errors[] = sprintf(
					/* translators: 1: HTTP status, 2: Forecourt's message */
					__( 'HTTP %1$d: %2$s', 'forecourt' ),
					$response['code'],
					Forecourt_Client::error_message( $response )
				);
			}
		}
		if ( ! $errors ) {
			return array(
				'type'    => 'success',
				'message' => sprintf(
					/* translators: %d: number of cars */
					_n( 'Sync Now: %d car sent to Forecourt and queued for the marketplaces.', 'Sync Now: %d cars sent to Forecourt and queued for the marketplaces.', $synced, 'forecourt' ),
					$synced
				),
			);
		}
		return array(
			'type'    => $synced ? 'warning' : 'error',
			'message' => sprintf(
				/* translators: 1: cars synced, 2: cars that could not be, 3: the first error */
				__( 'Sync Now: %1$d synced, %2$d not (their changes wait in the outbox and are retried). %3$s', 'forecourt' ),
				$synced,
				count( $errors ),
				reset( $errors )
			),
		);
	}

	/**
	 * Keep a notice for the next screen of this user.
	 *
	 * @param array $notice type, message.
	 */
	private function store_notice( $notice ) {
		set_transient( 'forecourt_notice_' . get_current_user_id(), $notice, 120 );
	}

	/**
	 * Show the stored notice once.
	 */
	public function notices() {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- display only.
		if ( empty( $_GET['forecourt_notice'] ) ) {
			return;
		}
		$key    = 'forecourt_notice_' . get_current_user_id();
		$notice = get_transient( $key );
		if ( ! is_array( $notice ) ) {
			return;
		}
		delete_transient( $key );
		$type  = in_array( $notice['type'], array( 'success', 'warning', 'error' ), true ) ? $notice['type'] : 'info';
		$class = 'success' === $type ? 'forecourt-synced' : 'forecourt-sync-problem';
		printf(
			'<div class="notice notice-%1$s is-dismissible %2$s"><p>%3$s</p></div>',
			esc_attr( $type ),
			esc_attr( $class ),
			esc_html( $notice['message'] )
		);
	}

	/**
	 * The Marketplaces meta box on car edit screens.
	 *
	 * @param string  $post_type Post type.
	 * @param WP_Post $post      Post.
	 */
	public function meta_box( $post_type, $post ) {
		if ( ! Forecourt_Settings::is_car_type( $post_type ) ) {
			return;
		}
		add_meta_box( 'forecourt-marketplaces', __( 'Marketplaces', 'forecourt' ), array( $this, 'render_meta_box' ), $post_type, 'side', 'high' );
	}

	/**
	 * Meta box body: filled by the script; Sync Now submits a form outside the post form.
	 *
	 * @param WP_Post $post Car.
	 */
	public function render_meta_box( $post ) {
		if ( ! Forecourt_Settings::is_configured() ) {
			echo '<p>' . esc_html__( 'Forecourt is not set up yet.', 'forecourt' ) . ' <a href="' . esc_url( admin_url( 'options-general.php?page=' . Forecourt_Settings::PAGE ) ) . '">' . esc_html__( 'Settings', 'forecourt' ) . '</a></p>';
			return;
		}
		if ( 'auto-draft' === $post->post_status ) {
			echo '<p>' . esc_html__( 'Save the car first; then it is sent to Forecourt.', 'forecourt' ) . '</p>';
			return;
		}
		?>
		<div class="forecourt-detail" id="forecourt-detail" data-post-id="<?php echo (int) $post->ID; ?>">
			<span class="forecourt-loading"><?php esc_html_e( 'Checking…', 'forecourt' ); ?></span>
		</div>
		<p>
			<button type="submit" class="button" id="forecourt-sync-now" form="forecourt-sync-now-form"><?php esc_html_e( 'Sync Now', 'forecourt' ); ?></button>
		</p>
		<?php
	}

	/**
	 * The Sync Now form, outside the post form (forms cannot nest; the button names it).
	 */
	public function sync_now_form() {
		$post = get_post();
		if ( ! $post || ! Forecourt_Settings::is_car_type( $post->post_type ) || ! current_user_can( 'edit_post', $post->ID ) ) {
			return;
		}
		?>
		<form id="forecourt-sync-now-form" method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" hidden>
			<input type="hidden" name="action" value="<?php echo esc_attr( self::ACTION ); ?>">
			<input type="hidden" name="post_id" value="<?php echo (int) $post->ID; ?>">
			<?php wp_nonce_field( self::ACTION . '_' . $post->ID, '_wpnonce', false ); ?>
		</form>
		<?php
	}

	/**
	 * Scripts and styles on the screens that use them.
	 *
	 * @param string $hook Screen hook.
	 */
	public function assets( $hook ) {
		$screen   = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
		$settings = 'settings_page_' . Forecourt_Settings::PAGE === $hook;
		$cars     = $screen && in_array( $screen->base, array( 'edit', 'post' ), true ) && Forecourt_Settings::is_car_type( $screen->post_type );
		if ( ! $settings && ! $cars ) {
			return;
		}
		wp_enqueue_style( 'forecourt-admin', FORECOURT_PLUGIN_URL . 'assets/admin.css', array(), FORECOURT_VERSION );
		wp_enqueue_script( 'forecourt-admin', FORECOURT_PLUGIN_URL . 'assets/admin.js', array(), FORECOURT_VERSION, true );
		wp_localize_script( 'forecourt-admin', 'forecourtAdmin', array(
			'statusUrl'  => esc_url_raw( rest_url( Forecourt_Status::NS . '/status' ) ),
			'restNonce'  => wp_create_nonce( 'wp_rest' ),
			'ajaxUrl'    => admin_url( 'admin-ajax.php' ),
			'testNonce'  => $settings ? wp_create_nonce( 'forecourt_test_connection' ) : '',
			'pollMs'     => 5000,
			'i18n'       => array(
				'testing'      => __( 'Testing…', 'forecourt' ),
				'failed'       => __( 'The test could not run:', 'forecourt' ),
				'unavailable'  => __( 'Marketplace states are unavailable right now.', 'forecourt' ),
				'fieldErrors'  => __( 'Fix these fields:', 'forecourt' ),
				'photos'       => __( 'Photo problems:', 'forecourt' ),
				'warnings'     => __( 'Notes:', 'forecourt' ),
				'viewListing'  => __( 'View listing', 'forecourt' ),
				'listingId'    => __( 'Listing id:', 'forecourt' ),
				'lastSynced'   => __( 'Last synced:', 'forecourt' ),
				'stale'        => __( 'Forecourt cannot be reached; showing the last known state.', 'forecourt' ),
				'mapping'      => __( 'Forecourt could not read these fields:', 'forecourt' ),
				'eventError'   => __( 'Forecourt could not apply the last change:', 'forecourt' ),
			),
		) );
	}
}

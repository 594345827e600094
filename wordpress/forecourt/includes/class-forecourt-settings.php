<?php
/**
 * Settings → Forecourt: where Forecourt is, which site this is, the shared secrets and the car
 * post types. Every value may instead be a wp-config.php constant, which locks the field.
 *
 * @package Forecourt
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Options, constants and the settings screen.
 */
class Forecourt_Settings {

	const PAGE  = 'forecourt';
	const GROUP = 'forecourt';

	/**
	 * Setting => [option name, wp-config.php constant, is secret].
	 *
	 * @var array<string, array{0: string, 1: string, 2: bool}>
	 */
	const FIELDS = array(
		'url'            => array( 'forecourt_url', 'FORECOURT_URL', false ),
		'site_id'        => array( 'forecourt_site_id', 'FORECOURT_SITE_ID', false ),
		'webhook_secret' => array( 'forecourt_webhook_secret', 'FORECOURT_WEBHOOK_SECRET', true ),
		'api_key'        => array( 'forecourt_api_key', 'FORECOURT_API_KEY', true ),
	);

	const POST_TYPES_OPTION = 'forecourt_post_types';

	/**
	 * Car post types of the dealer plugins Forecourt knows, with the plugin's name.
	 *
	 * @return array<string, string>
	 */
	public static function known_post_types() {
		return array(
			'inventory_vehicle' => 'Inventory Presser',
			'listings'          => 'Motors',
			'stm_listings'      => 'Motors (classic)',
			'auto-listing'      => 'Auto Listings',
			'vehicle'           => 'Vehicle Manager',
			'vehicles'          => 'Car Dealer',
			'car'               => 'Car listings',
			'cars'              => 'Car listings',
			'dealer_vehicle'    => 'Dealer inventory',
		);
	}

	/**
	 * A setting's value: the wp-config.php constant when defined, otherwise the option.
	 *
	 * @param string $key One of the FIELDS keys.
	 * @return string
	 */
	public static function get( $key ) {
		if ( ! isset( self::FIELDS[ $key ] ) ) {
			return '';
		}
		list( $option, $constant ) = self::FIELDS[ $key ];
		if ( defined( $constant ) ) {
			return trim( (string) constant( $constant ) );
		}
		return trim( (string) get_option( $option, '' ) );
	}

	/**
	 * Whether a wp-config.php constant sets (and locks) this setting.
	 *
	 * @param string $key One of the FIELDS keys.
	 * @return bool
	 */
	public static function is_locked( $key ) {
		return isset( self::FIELDS[ $key ] ) && defined( self::FIELDS[ $key ][1] );
	}

	/**
	 * The Forecourt base URL without a trailing slash, or '' when it is not a valid http(s) URL.
	 *
	 * @return string
	 */
	public static function url() {
		return self::clean_url( self::get( 'url' ) );
	}

	/**
	 * An http(s) URL with no query, fragment or credentials, without its trailing slash.
	 *
	 * @param string $url Raw URL.
	 * @return string
	 */
	public static function clean_url( $url ) {
		$url   = trim( (string) $url );
		$parts = wp_parse_url( $url );
		if ( ! $url || ! is_array( $parts ) || empty( $parts['host'] ) || empty( $parts['scheme'] )
			|| ! in_array( strtolower( $parts['scheme'] ), array( 'http', 'https' ), true )
			|| isset( $parts['user'] ) || isset( $parts['pass'] ) || isset( $parts['query'] ) || isset( $parts['fragment'] ) ) {
			return '';
		}
		return untrailingslashit( esc_url_raw( $url, array( 'http', 'https' ) ) );
	}

	/**
	 * The Forecourt site id (letters, digits, dashes and underscores).
	 *
	 * @return string
	 */
	public static function site_id() {
		return self::clean_site_id( self::get( 'site_id' ) );
	}

	/**
	 * A site id as Forecourt spells them.
	 *
	 * @param string $value Raw value.
	 * @return string
	 */
	public static function clean_site_id( $value ) {
		return substr( preg_replace( '/[^A-Za-z0-9_.-]/', '', (string) $value ), 0, 64 );
	}

	/**
	 * Enough is set to send events: URL, site id and webhook secret.
	 *
	 * @return bool
	 */
	public static function is_configured() {
		return '' !== self::url() && '' !== self::site_id() && '' !== self::get( 'webhook_secret' );
	}

	/**
	 * The car post types events are sent for.
	 *
	 * @return string[]
	 */
	public static function post_types() {
		$saved = get_option( self::POST_TYPES_OPTION, null );
		if ( is_array( $saved ) ) {
			$types = array_values( array_filter( array_map( 'sanitize_key', $saved ) ) );
		} else {
			// Never saved: the known car types that exist on this site.
			$types = array_values( array_filter( array_keys( self::known_post_types() ), 'post_type_exists' ) );
		}
		/**
		 * Filters the car post types the plugin sends to Forecourt.
		 *
		 * @param string[] $types Post type names.
		 */
		return array_values( array_unique( (array) apply_filters( 'forecourt_post_types', $types ) ) );
	}

	/**
	 * Whether a post type is one of the car post types.
	 *
	 * @param string $post_type Post type name.
	 * @return bool
	 */
	public static function is_car_type( $post_type ) {
		return is_string( $post_type ) && in_array( $post_type, self::post_types(), true );
	}

	/**
	 * Post types offered on the settings page: known car types first, then other public types.
	 *
	 * @return array<string, string> name => label
	 */
	public static function offered_post_types() {
		$offered = array();
		$known   = self::known_post_types();
		foreach ( $known as $name => $plugin ) {
			$object = get_post_type_object( $name );
			if ( $object ) {
				/* translators: 1: post type label, 2: the plugin that registers it, 3: post type name */
				$offered[ $name ] = sprintf( __( '%1$s (%2$s, %3$s)', 'forecourt' ), $object->labels->name, $plugin, $name );
			}
		}
		$objects = get_post_types( array( 'show_ui' => true ), 'objects' );
		foreach ( $objects as $name => $object ) {
			if ( isset( $offered[ $name ] ) || in_array( $name, array( 'attachment', 'page', 'wp_block', 'wp_navigation', 'wp_template', 'wp_template_part' ), true ) ) {
				continue;
			}
			/* translators: 1: post type label, 2: post type name */
			$offered[ $name ] = sprintf( __( '%1$s (%2$s)', 'forecourt' ), $object->labels->name, $name );
		}
		foreach ( self::post_types() as $name ) {
			if ( ! isset( $offered[ $name ] ) ) {
				/* translators: %s: post type name */
				$offered[ $name ] = sprintf( __( '%s (not registered at the moment)', 'forecourt' ), $name );
			}
		}
		return $offered;
	}

	/**
	 * Hooks.
	 */
	public function register() {
		add_action( 'admin_menu', array( $this, 'menu' ) );
		add_action( 'admin_init', array( $this, 'register_settings' ) );
		add_action( 'wp_ajax_forecourt_test_connection', array( $this, 'ajax_test_connection' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( FORECOURT_PLUGIN_FILE ), array( $this, 'action_links' ) );
	}

	/**
	 * "Settings" next to Deactivate on the Plugins screen.
	 *
	 * @param string[] $links Links.
	 * @return string[]
	 */
	public function action_links( $links ) {
		$url = admin_url( 'options-general.php?page=' . self::PAGE );
		array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'forecourt' ) . '</a>' );
		return $links;
	}

	/**
	 * Settings → Forecourt.
	 */
	public function menu() {
		add_options_page(
			__( 'Forecourt', 'forecourt' ),
			__( 'Forecourt', 'forecourt' ),
			'manage_options',
			self::PAGE,
			array( $this, 'render_page' )
		);
	}

	/**
	 * The options and their sanitisers (options.php saves them).
	 */
	public function register_settings() {
		register_setting( self::GROUP, 'forecourt_url', array(
			'type'              => 'string',
			'sanitize_callback' => array( $this, 'sanitize_url' ),
			'default'           => '',
			'show_in_rest'      => false,
		) );
		register_setting( self::GROUP, 'forecourt_site_id', array(
			'type'              => 'string',
			'sanitize_callback' => array( $this, 'sanitize_site_id' ),
			'default'           => '',
			'show_in_rest'      => false,
		) );
		register_setting( self::GROUP, 'forecourt_webhook_secret', array(
			'type'              => 'string',
			'sanitize_callback' => array( $this, 'sanitize_webhook_secret' ),
			'default'           => '',
			'show_in_rest'      => false,
		) );
		register_setting( self::GROUP, 'forecourt_api_key', array(
			'type'              => 'string',
			'sanitize_callback' => array( $this, 'sanitize_api_key' ),
			'default'           => '',
			'show_in_rest'      => false,
		) );
		register_setting( self::GROUP, self::POST_TYPES_OPTION, array(
			'type'              => 'array',
			'sanitize_callback' => array( $this, 'sanitize_post_types' ),
			'show_in_rest'      => false,
		) );
	}

	/**
	 * The stored option (not the constant) before this save.
	 *
	 * @param string $option Option name.
	 * @return string
	 */
	private function previous( $option ) {
		return (string) get_option( $option, '' );
	}

	/**
	 * Forecourt URL: http(s) only.
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public function sanitize_url( $value ) {
		if ( null === $value || self::is_locked( 'url' ) ) {
			return $this->previous( 'forecourt_url' );
		}
		$value = trim( sanitize_text_field( (string) $value ) );
		if ( '' === $value ) {
			return '';
		}
		$clean = self::clean_url( $value );
		if ( '' === $clean ) {
			add_settings_error( 'forecourt_url', 'forecourt_url', __( 'The Forecourt URL must be an http:// or https:// address, without a query string. It was not changed.', 'forecourt' ) );
			return $this->previous( 'forecourt_url' );
		}
		return $clean;
	}

	/**
	 * Site id.
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public function sanitize_site_id( $value ) {
		if ( null === $value || self::is_locked( 'site_id' ) ) {
			return $this->previous( 'forecourt_site_id' );
		}
		return self::clean_site_id( sanitize_text_field( (string) $value ) );
	}

	/**
	 * Webhook secret: an empty field keeps the stored one.
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public function sanitize_webhook_secret( $value ) {
		return $this->sanitize_secret( 'webhook_secret', $value );
	}

	/**
	 * API key: an empty field keeps the stored one.
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public function sanitize_api_key( $value ) {
		return $this->sanitize_secret( 'api_key', $value );
	}

	/**
	 * Secrets are never printed back, so an empty field means "keep it"; the "forget" box clears it.
	 *
	 * @param string $key   Setting.
	 * @param mixed  $value Submitted value.
	 * @return string
	 */
	private function sanitize_secret( $key, $value ) {
		$option = self::FIELDS[ $key ][0];
		if ( self::is_locked( $key ) ) {
			return $this->previous( $option );
		}
		// phpcs:ignore WordPress.Security.NonceVerification.Missing -- options.php checked the settings nonce.
		if ( isset( $_POST[ $option . '_clear' ] ) && '1' === $_POST[ $option . '_clear' ] ) {
			return '';
		}
		$value = is_string( $value ) ? trim( $value ) : '';
		if ( '' === $value ) {
			return $this->previous( $option );
		}
		// Secrets are printable ASCII (whsec_<base64>, fck_<urlsafe>): anything else is a paste error.
		if ( ! preg_match( '/^[\x21-\x7e]{8,512}$/', $value ) ) {
			add_settings_error( $option, $option, __( 'That secret contains spaces or unusual characters, or is too short; it was not saved.', 'forecourt' ) );
			return $this->previous( $option );
		}
		return $value;
	}

	/**
	 * Post types: registered names only.
	 *
	 * @param mixed $value Submitted value.
	 * @return string[]
	 */
	public function sanitize_post_types( $value ) {
		$value = is_array( $value ) ? $value : array();
		$types = array();
		foreach ( $value as $type ) {
			$type = sanitize_key( (string) $type );
			if ( $type && ( post_type_exists( $type ) || in_array( $type, self::post_types(), true ) ) ) {
				$types[] = $type;
			}
		}
		return array_values( array_unique( $types ) );
	}

	/**
	 * The settings screen.
	 */
	public function render_page() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage Forecourt.', 'forecourt' ) );
		}
		$outbox = Forecourt_Plugin::instance()->outbox;
		$stats  = $outbox->stats();
		?>
		<div class="wrap forecourt-settings">
			<h1><?php esc_html_e( 'Forecourt', 'forecourt' ); ?></h1>
			<p><?php esc_html_e( 'Forecourt keeps your cars listed on the marketplaces. Enter the details Forecourt gave you for this site.', 'forecourt' ); ?></p>
			<form method="post" action="options.php">
				<?php settings_fields( self::GROUP ); ?>
				<table class="form-table" role="presentation">
					<?php
					$this->text_row( 'url', __( 'Forecourt URL', 'forecourt' ), 'url', __( 'For example https://forecourt.example.com', 'forecourt' ) );
					$this->text_row( 'site_id', __( 'Site id', 'forecourt' ), 'text', __( 'The id of this site in Forecourt.', 'forecourt' ) );
					$this->secret_row( 'webhook_secret', __( 'Webhook secret', 'forecourt' ), __( 'Signs every event (whsec_…). Shared with Forecourt.', 'forecourt' ) );
					$this->secret_row( 'api_key', __( 'API key', 'forecourt' ), __( 'A site-scoped Forecourt key (fck_…) with the sites:read scope, for the Marketplaces column and meta box.', 'forecourt' ) );
					?>
					<tr>
						<th scope="row"><?php esc_html_e( 'Car post types', 'forecourt' ); ?></th>
						<td>
							<fieldset>
								<legend class="screen-reader-text"><?php esc_html_e( 'Car post types', 'forecourt' ); ?></legend>
								<input type="hidden" name="<?php echo esc_attr( self::POST_TYPES_OPTION ); ?>[]" value="">
								<?php
								$chosen = self::post_types();
								foreach ( self::offered_post_types() as $name => $label ) :
									?>
									<label>
										<input type="checkbox" name="<?php echo esc_attr( self::POST_TYPES_OPTION ); ?>[]" value="<?php echo esc_attr( $name ); ?>" <?php checked( in_array( $name, $chosen, true ) ); ?>>
										<?php echo esc_html( $label ); ?>
									</label><br>
								<?php endforeach; ?>
								<p class="description"><?php esc_html_e( 'Changes to posts of these types are sent to Forecourt.', 'forecourt' ); ?></p>
							</fieldset>
						</td>
					</tr>
				</table>
				<?php submit_button(); ?>
			</form>

			<h2><?php esc_html_e( 'Connection', 'forecourt' ); ?></h2>
			<p>
				<button type="button" class="button" id="forecourt-test-connection"><?php esc_html_e( 'Test connection', 'forecourt' ); ?></button>
			</p>
			<div id="forecourt-test-result" aria-live="polite"></div>

			<h2><?php esc_html_e( 'Outbox', 'forecourt' ); ?></h2>
			<p>
				<?php
				echo esc_html( sprintf(
					/* translators: 1: changes waiting, 2: changes Forecourt refused */
					__( 'Waiting to be sent: %1$d. Refused by Forecourt: %2$d.', 'forecourt' ),
					$stats['pending'],
					$stats['failed']
				) );
				if ( $stats['last_error'] ) {
					echo ' ' . esc_html( sprintf(
						/* translators: %s: the last delivery error */
						__( 'Last error: %s', 'forecourt' ),
						$stats['last_error']
					) );
				}
				?>
			</p>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
				<input type="hidden" name="action" value="forecourt_flush">
				<?php wp_nonce_field( 'forecourt_flush' ); ?>
				<?php submit_button( __( 'Send waiting changes now', 'forecourt' ), 'secondary', 'forecourt-flush', false ); ?>
			</form>
		</div>
		<?php
	}

	/**
	 * A plain text row; a constant shows its value read-only.
	 *
	 * @param string $key         Setting.
	 * @param string $label       Label.
	 * @param string $type        Input type.
	 * @param string $description Help text.
	 */
	private function text_row( $key, $label, $type, $description ) {
		$option = self::FIELDS[ $key ][0];
		?>
		<tr>
			<th scope="row"><label for="<?php echo esc_attr( $option ); ?>"><?php echo esc_html( $label ); ?></label></th>
			<td>
				<?php if ( self::is_locked( $key ) ) : ?>
					<input type="<?php echo esc_attr( $type ); ?>" id="<?php echo esc_attr( $option ); ?>" class="regular-text" value="<?php echo esc_attr( self::get( $key ) ); ?>" disabled>
					<p class="description">
						<?php
						/* translators: %s: constant name */
						echo esc_html( sprintf( __( 'Set in wp-config.php (%s).', 'forecourt' ), self::FIELDS[ $key ][1] ) );
						?>
					</p>
				<?php else : ?>
					<input type="<?php echo esc_attr( $type ); ?>" id="<?php echo esc_attr( $option ); ?>" name="<?php echo esc_attr( $option ); ?>" class="regular-text" value="<?php echo esc_attr( (string) get_option( $option, '' ) ); ?>">
					<p class="description"><?php echo esc_html( $description ); ?></p>
				<?php endif; ?>
			</td>
		</tr>
		<?php
	}

	/**
	 * A secret row: never printed back, only "set" or "not set" and a replace field.
	 *
	 * @param string $key         Setting.
	 * @param string $label       Label.
	 * @param string $description Help text.
	 */
	private function secret_row( $key, $label, $description ) {
		$option = self::FIELDS[ $key ][0];
		$is_set = '' !== self::get( $key );
		?>
		<tr>
			<th scope="row"><label for="<?php echo esc_attr( $option ); ?>"><?php echo esc_html( $label ); ?></label></th>
			<td>
				<?php if ( self::is_locked( $key ) ) : ?>
					<p class="forecourt-secret-state">
						<?php
						/* translators: %s: constant name */
						echo esc_html( sprintf( __( '•••• set in wp-config.php (%s).', 'forecourt' ), self::FIELDS[ $key ][1] ) );
						?>
					</p>
				<?php else : ?>
					<p class="forecourt-secret-state">
						<?php echo $is_set ? esc_html__( '•••• set', 'forecourt' ) : esc_html__( 'Not set', 'forecourt' ); ?>
					</p>
					<input type="password" id="<?php echo esc_attr( $option ); ?>" name="<?php echo esc_attr( $option ); ?>" class="regular-text" value="" autocomplete="new-password" placeholder="<?php echo esc_attr( $is_set ? __( 'Enter a new value to replace it', 'forecourt' ) : '' ); ?>">
					<?php if ( $is_set ) : ?>
						<label><input type="checkbox" name="<?php echo esc_attr( $option . '_clear' ); ?>" value="1"> <?php esc_html_e( 'Forget it', 'forecourt' ); ?></label>
					<?php endif; ?>
					<p class="description"><?php echo esc_html( $description ); ?></p>
				<?php endif; ?>
			</td>
		</tr>
		<?php
	}

	/**
	 * "Test connection": Forecourt's /readyz, a signed ping, and the API key on the car-status API.
	 */
	public function ajax_test_connection() {
		check_ajax_referer( 'forecourt_test_connection', 'nonce' );
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_send_json_error( array( 'message' => __( 'Sorry, you are not allowed to do that.', 'forecourt' ) ), 403 );
		}
		if ( ! self::is_configured() ) {
			wp_send_json_error( array( 'message' => __( 'Enter the Forecourt URL, the site id and the webhook secret first, then save.', 'forecourt' ) ) );
		}
		$client = new Forecourt_Client();
		$lines  = array();
		$ok     = true;

		$ready = $client->request( 'GET', '/readyz', null, array( 'timeout' => 10 ) );
		if ( is_wp_error( $ready ) ) {
			$ok      = false;
			$lines[] = sprintf(
				/* translators: %s: error message */
				__( 'Forecourt could not be reached: %s', 'forecourt' ),
				$ready->get_error_message()
			);
		} elseif ( 200 !== $ready['code'] ) {
			$ok      = false;
			$lines[] = sprintf(
				/* translators: %d: HTTP status */
				__( 'Forecourt answered /readyz with HTTP %d: it is up but not ready.', 'forecourt' ),
				$ready['code']
			);
		} else {
			$lines[] = __( 'Forecourt is reachable and ready.', 'forecourt' );
		}

		if ( $ok ) {
			$ping = $client->ping();
			if ( is_wp_error( $ping ) ) {
				$ok      = false;
				$lines[] = $ping->get_error_message();
			} elseif ( 200 === $ping['code'] && isset( $ping['json']['siteId'] ) ) {
				$lines[] = sprintf(
					/* translators: %s: Forecourt site id */
					__( 'A signed ping was accepted for site "%s": the webhook secret is right.', 'forecourt' ),
					(string) $ping['json']['siteId']
				);
			} else {
				$ok      = false;
				$lines[] = sprintf(
					/* translators: 1: HTTP status, 2: Forecourt's message */
					__( 'The signed ping was refused (HTTP %1$d): %2$s', 'forecourt' ),
					$ping['code'],
					Forecourt_Client::error_message( $ping )
				);
			}
		}

		if ( $ok && '' !== self::get( 'api_key' ) ) {
			$status = $client->car_status( array( '0' ) );
			if ( is_wp_error( $status ) ) {
				$ok      = false;
				$lines[] = $status->get_error_message();
			} elseif ( 200 === $status['code'] ) {
				$lines[] = __( 'The API key can read this site\'s cars.', 'forecourt' );
			} else {
				$ok      = false;
				$lines[] = sprintf(
					/* translators: 1: HTTP status, 2: Forecourt's message */
					__( 'The API key was refused (HTTP %1$d): %2$s', 'forecourt' ),
					$status['code'],
					Forecourt_Client::error_message( $status )
				);
			}
		} elseif ( $ok ) {
			$lines[] = __( 'No API key is set, so the Marketplaces column cannot show states.', 'forecourt' );
		}

		$summary = $ok ? __( 'Connected: everything works.', 'forecourt' ) : __( 'Connection problem.', 'forecourt' );
		$payload = array( 'message' => $summary . ' ' . implode( ' ', $lines ) );
		if ( $ok ) {
			wp_send_json_success( $payload );
		}
		wp_send_json_error( $payload );
	}
}

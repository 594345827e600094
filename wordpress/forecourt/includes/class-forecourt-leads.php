<?php
/**
 * Enquiries from car pages: the [forecourt_enquiry] shortcode, and a hook for other form
 * plugins. A lead goes to {forecourt_url}/hooks/leads/{site_id}, signed; if Forecourt answers
 * with a redirect_url the shopper is sent there, otherwise thanked. A lead that cannot be
 * delivered at once waits in the outbox.
 *
 * @package Forecourt
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Leads.
 */
class Forecourt_Leads {

	const ACTION      = 'forecourt_enquiry';
	const TIMEOUT     = 5;
	const FIELD_LIMIT = array(
		'first_name' => 100,
		'last_name'  => 100,
		'email'      => 200,
		'phone'      => 50,
		'message'    => 5000,
	);

	/**
	 * Outbox.
	 *
	 * @var Forecourt_Outbox
	 */
	private $outbox;

	/**
	 * Host of the redirect currently allowed (for wp_safe_redirect).
	 *
	 * @var string
	 */
	private $redirect_host = '';

	/**
	 * Constructor.
	 *
	 * @param Forecourt_Outbox $outbox Outbox.
	 */
	public function __construct( $outbox ) {
		$this->outbox = $outbox;
	}

	/**
	 * Hooks.
	 */
	public function register() {
		add_shortcode( 'forecourt_enquiry', array( $this, 'shortcode' ) );
		add_action( 'admin_post_' . self::ACTION, array( $this, 'handle' ) );
		add_action( 'admin_post_nopriv_' . self::ACTION, array( $this, 'handle' ) );
		add_action( 'forecourt_submit_lead', array( $this, 'submit_from_hook' ), 10, 1 );
	}

	/**
	 * The enquiry form.
	 *
	 * @param array|string $atts car (post id; default: the current post), title, button.
	 * @return string
	 */
	public function shortcode( $atts ) {
		$atts   = shortcode_atts(
			array(
				'car'    => 0,
				'title'  => __( 'Ask about this car', 'forecourt' ),
				'button' => __( 'Send enquiry', 'forecourt' ),
			),
			$atts,
			'forecourt_enquiry'
		);
		$car_id = absint( $atts['car'] );
		if ( ! $car_id ) {
			$car_id = (int) get_the_ID();
		}
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- display only.
		$state = isset( $_GET['forecourt_enquiry'] ) ? sanitize_key( wp_unslash( $_GET['forecourt_enquiry'] ) ) : '';
		ob_start();
		?>
		<div class="forecourt-enquiry" id="forecourt-enquiry">
			<?php if ( 'sent' === $state ) : ?>
				<p class="forecourt-enquiry-thanks" role="status"><?php esc_html_e( 'Thank you! Your enquiry has been sent; the dealer will be in touch soon.', 'forecourt' ); ?></p>
			<?php else : ?>
				<?php if ( 'invalid' === $state ) : ?>
					<p class="forecourt-enquiry-error" role="alert"><?php esc_html_e( 'Please give your first name, last name and a valid email address.', 'forecourt' ); ?></p>
				<?php endif; ?>
				<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="forecourt-enquiry-form">
					<?php if ( '' !== $atts['title'] ) : ?>
						<h3><?php echo esc_html( $atts['title'] ); ?></h3>
					<?php endif; ?>
					<input type="hidden" name="action" value="<?php echo esc_attr( self::ACTION ); ?>">
					<input type="hidden" name="forecourt_car" value="<?php echo (int) $car_id; ?>">
					<?php wp_nonce_field( self::ACTION, 'forecourt_enquiry_nonce' ); ?>
					<p><label><?php esc_html_e( 'First name', 'forecourt' ); ?><br><input type="text" name="first_name" required maxlength="100" autocomplete="given-name"></label></p>
					<p><label><?php esc_html_e( 'Last name', 'forecourt' ); ?><br><input type="text" name="last_name" required maxlength="100" autocomplete="family-name"></label></p>
					<p><label><?php esc_html_e( 'Email', 'forecourt' ); ?><br><input type="email" name="email" required maxlength="200" autocomplete="email"></label></p>
					<p><label><?php esc_html_e( 'Phone', 'forecourt' ); ?><br><input type="tel" name="phone" maxlength="50" autocomplete="tel"></label></p>
					<p><label><?php esc_html_e( 'Message', 'forecourt' ); ?><br><textarea name="message" rows="4" maxlength="5000"></textarea></label></p>
					<p class="forecourt-hp" aria-hidden="true" style="position:absolute;left:-9999px"><label><?php esc_html_e( 'Leave this empty', 'forecourt' ); ?><input type="text" name="forecourt_website" tabindex="-1" autocomplete="off"></label></p>
					<p><button type="submit" class="forecourt-enquiry-submit"><?php echo esc_html( $atts['button'] ); ?></button></p>
				</form>
			<?php endif; ?>
		</div>
		<?php
		return (string) ob_get_clean();
	}

	/**
	 * The form's fields, sanitised.
	 *
	 * @param array $raw Raw fields (unslashed).
	 * @return array
	 */
	public static function clean_fields( $raw ) {
		$fields = array();
		foreach ( self::FIELD_LIMIT as $name => $limit ) {
			$value = isset( $raw[ $name ] ) && is_scalar( $raw[ $name ] ) ? (string) $raw[ $name ] : '';
			$value = 'message' === $name ? sanitize_textarea_field( $value ) : sanitize_text_field( $value );
			if ( 'email' === $name ) {
				$value = sanitize_email( $value );
			}
			$fields[ $name ] = function_exists( 'mb_substr' ) ? mb_substr( $value, 0, $limit ) : substr( $value, 0, $limit );
		}
		$fields['post_id'] = isset( $raw['post_id'] ) ? absint( $raw['post_id'] ) : 0;
		return $fields;
	}

	/**
	 * Whether Forecourt can take the lead: a first and last name and a valid email (what
	 * Roadster requires; Forecourt answers 422 otherwise).
	 *
	 * @param array $fields Clean fields.
	 * @return bool
	 */
	public static function is_valid( $fields ) {
		return '' !== $fields['first_name'] && '' !== $fields['last_name'] && '' !== $fields['email'] && is_email( $fields['email'] );
	}

	/**
	 * The body Forecourt's lead endpoint receives.
	 *
	 * @param array $fields Clean fields (post_id is the car).
	 * @return array
	 */
	public static function payload( $fields ) {
		$car_id = (int) $fields['post_id'];
		$car    = get_post( $car_id );
		if ( ! $car || ! Forecourt_Settings::is_car_type( $car->post_type ) ) {
			$car_id = 0;
		}
		$identity = $car_id ? Forecourt_Payload::car_identity( $car_id ) : array(
			'vin'          => '',
			'stock_number' => '',
		);
		$payload  = array(
			'submission_id' => wp_generate_uuid4(),
			'first_name'    => $fields['first_name'],
			'last_name'     => $fields['last_name'],
			'email'         => $fields['email'],
			'phone'         => $fields['phone'],
			'message'       => $fields['message'],
			'car'           => array(
				'post_id'      => $car_id ? $car_id : null,
				'vin'          => $identity['vin'],
				'stock_number' => $identity['stock_number'],
			),
			'source_url'    => $car_id ? get_permalink( $car_id ) : home_url( '/' ),
			'submitted_at'  => gmdate( 'c' ),
		);
		/**
		 * Filters the lead sent to Forecourt.
		 *
		 * @param array $payload {submission_id, first_name, last_name, email, phone, message, car: {post_id, vin, stock_number}}.
		 * @param array $fields  The submitted fields.
		 */
		return apply_filters( 'forecourt_lead_payload', $payload, $fields );
	}

	/**
	 * The form post (logged in or not).
	 */
	public function handle() {
		$nonce = isset( $_POST['forecourt_enquiry_nonce'] ) ? sanitize_text_field( wp_unslash( $_POST['forecourt_enquiry_nonce'] ) ) : '';
		if ( ! wp_verify_nonce( $nonce, self::ACTION ) ) {
			wp_die( esc_html__( 'This form has expired. Please go back, reload the page and send it again.', 'forecourt' ), '', array( 'response' => 403, 'back_link' => true ) );
		}
		$raw            = wp_unslash( $_POST );
		$raw['post_id'] = isset( $raw['forecourt_car'] ) ? $raw['forecourt_car'] : 0;
		$fields         = self::clean_fields( $raw );
		$back           = $fields['post_id'] && get_post( $fields['post_id'] ) ? get_permalink( $fields['post_id'] ) : wp_get_referer();
		$back           = $back ? $back : home_url( '/' );
		if ( ! empty( $raw['forecourt_website'] ) ) {
			// The honeypot was filled: a bot. Thank it and drop the lead.
			$this->redirect_back( $back, 'sent' );
		}
		if ( ! self::is_valid( $fields ) ) {
			$this->redirect_back( $back, 'invalid' );
		}
		$result = $this->submit( $fields, true );
		if ( ! empty( $result['redirect_url'] ) ) {
			$this->redirect_host = (string) wp_parse_url( $result['redirect_url'], PHP_URL_HOST );
			add_filter( 'allowed_redirect_hosts', array( $this, 'allow_redirect_host' ) );
			wp_safe_redirect( $result['redirect_url'], 303 );
			exit;
		}
		$this->redirect_back( $back, 'sent' );
	}

	/**
	 * Back to the car page with the form's state.
	 *
	 * @param string $url   Car page.
	 * @param string $state sent or invalid.
	 */
	private function redirect_back( $url, $state ) {
		wp_safe_redirect( add_query_arg( 'forecourt_enquiry', $state, $url ) . '#forecourt-enquiry', 303 );
		exit;
	}

	/**
	 * Only the host Forecourt named, only for this redirect.
	 *
	 * @param string[] $hosts Allowed hosts.
	 * @return string[]
	 */
	public function allow_redirect_host( $hosts ) {
		if ( '' !== $this->redirect_host ) {
			$hosts[] = $this->redirect_host;
		}
		return $hosts;
	}

	/**
	 * Send a lead, or queue it when Forecourt cannot take it now.
	 *
	 * @param array $fields Clean fields.
	 * @param bool  $now    Try at once (a shopper is waiting, so the timeout is short).
	 * @return array{sent: bool, queued: bool, redirect_url: string}
	 */
	public function submit( $fields, $now = true ) {
		$result  = array(
			'sent'         => false,
			'queued'       => false,
			'redirect_url' => '',
		);
		$payload = self::payload( $fields );
		if ( ! Forecourt_Settings::is_configured() ) {
			return $result;
		}
		if ( $now ) {
			$body     = (string) wp_json_encode( $payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
			$response = ( new Forecourt_Client() )->send_lead( $body, 'lead_' . $payload['submission_id'], self::TIMEOUT );
			if ( ! is_wp_error( $response ) && $response['code'] >= 200 && $response['code'] < 300 ) {
				$result['sent'] = true;
				$json           = $response['json'];
				if ( is_array( $json ) && ! empty( $json['redirect_url'] ) && is_string( $json['redirect_url'] ) ) {
					$url = esc_url_raw( $json['redirect_url'], array( 'http', 'https' ) );
					if ( $url && wp_parse_url( $url, PHP_URL_HOST ) ) {
						$result['redirect_url'] = $url;
					}
				}
				return $result;
			}
		}
		$this->outbox->enqueue( (int) $payload['car']['post_id'], 'lead', $payload );
		$result['queued'] = true;
		return $result;
	}

	/**
	 * For other form plugins: do_action( 'forecourt_submit_lead', $fields ) with first_name,
	 * last_name, email, phone, message and post_id (the car). Queued, never blocking the form.
	 *
	 * @param array $fields Fields.
	 */
	public function submit_from_hook( $fields ) {
		if ( ! is_array( $fields ) ) {
			return;
		}
		$fields = self::clean_fields( $fields );
		if ( self::is_valid( $fields ) ) {
			$this->submit( $fields, false );
		}
	}
}

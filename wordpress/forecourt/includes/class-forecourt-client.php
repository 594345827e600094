<?php
/**
 * Every call to Forecourt: only to the configured URL, with an explicit timeout, signed with
 * Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256>).
 *
 * @package Forecourt
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * HTTP client for Forecourt.
 */
class Forecourt_Client {

	const DEFAULT_TIMEOUT = 15;

	/**
	 * The HMAC key of a Standard Webhooks secret: whsec_<base64> decodes, anything else is its bytes.
	 *
	 * @param string $secret Secret as configured.
	 * @return string Raw key bytes ('' when unusable).
	 */
	public static function secret_key( $secret ) {
		$secret = trim( (string) $secret );
		if ( 0 === strpos( $secret, 'whsec_' ) ) {
			$encoded = substr( $secret, 6 );
			$encoded = str_pad( $encoded, strlen( $encoded ) + ( 4 - strlen( $encoded ) % 4 ) % 4, '=' );
			$key     = base64_decode( $encoded, true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode -- the Standard Webhooks secret format.
			return false === $key ? '' : $key;
		}
		return $secret;
	}

	/**
	 * The webhook-signature value for one message.
	 *
	 * @param string $secret     Secret as configured.
	 * @param string $webhook_id Message id.
	 * @param int    $timestamp  Unix seconds.
	 * @param string $body       Raw body.
	 * @return string
	 */
	public static function sign( $secret, $webhook_id, $timestamp, $body ) {
		$digest = hash_hmac( 'sha256', $webhook_id . '.' . $timestamp . '.' . $body, self::secret_key( $secret ), true );
		return 'v1,' . base64_encode( $digest ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode -- the signature format.
	}

	/**
	 * Standard Webhooks headers for a body.
	 *
	 * @param string      $body       Raw body.
	 * @param string|null $webhook_id Message id (stable across retries of one message), or a new one.
	 * @return array<string, string>
	 */
	public static function signed_headers( $body, $webhook_id = null ) {
		$webhook_id = $webhook_id ? $webhook_id : 'msg_' . str_replace( '-', '', wp_generate_uuid4() );
		$timestamp  = time();
		return array(
			'Content-Type'      => 'application/json',
			'webhook-id'        => $webhook_id,
			'webhook-timestamp' => (string) $timestamp,
			'webhook-signature' => self::sign( Forecourt_Settings::get( 'webhook_secret' ), $webhook_id, $timestamp, $body ),
		);
	}

	/**
	 * One request to {forecourt_url}{path}.
	 *
	 * @param string      $method HTTP method.
	 * @param string      $path   Path on Forecourt, starting with "/".
	 * @param string|null $body   Raw body.
	 * @param array       $args   timeout, headers.
	 * @return array{code: int, body: string, json: mixed}|WP_Error
	 */
	public function request( $method, $path, $body = null, $args = array() ) {
		$base = Forecourt_Settings::url();
		if ( '' === $base ) {
			return new WP_Error( 'forecourt_not_configured', __( 'The Forecourt URL is not set.', 'forecourt' ) );
		}
		if ( '/' !== substr( $path, 0, 1 ) ) {
			return new WP_Error( 'forecourt_bad_path', __( 'Invalid Forecourt path.', 'forecourt' ) );
		}
		$headers = isset( $args['headers'] ) ? $args['headers'] : array();
		$headers['User-Agent'] = 'Forecourt-WordPress/' . FORECOURT_VERSION . '; ' . home_url( '/' );
		$request = array(
			'method'      => $method,
			'timeout'     => isset( $args['timeout'] ) ? (float) $args['timeout'] : self::DEFAULT_TIMEOUT,
			'redirection' => 0, // Never follow a redirect away from the configured URL.
			'headers'     => $headers,
			'body'        => $body,
			'sslverify'   => true,
		);
		// wp_safe_remote_request refuses hosts the site has not allowed (private ranges, odd ports).
		$response = wp_safe_remote_request( $base . $path, $request );
		if ( is_wp_error( $response ) ) {
			return new WP_Error(
				'forecourt_unreachable',
				sprintf(
					/* translators: %s: the transport error */
					__( 'Forecourt could not be reached: %s', 'forecourt' ),
					$response->get_error_message()
				)
			);
		}
		$text = (string) wp_remote_retrieve_body( $response );
		return array(
			'code' => (int) wp_remote_retrieve_response_code( $response ),
			'body' => $text,
			'json' => json_decode( $text, true ),
		);
	}

	/**
	 * Forecourt's error message from a JSON error envelope, or the start of the body.
	 *
	 * @param array $response A request() result.
	 * @return string
	 */
	public static function error_message( $response ) {
		$json = isset( $response['json'] ) ? $response['json'] : null;
		if ( is_array( $json ) && isset( $json['error']['message'] ) && is_string( $json['error']['message'] ) ) {
			$message = $json['error']['message'];
			if ( ! empty( $json['error']['fields'] ) && is_array( $json['error']['fields'] ) ) {
				$message .= ' ' . wp_json_encode( $json['error']['fields'] );
			}
			return substr( $message, 0, 500 );
		}
		return substr( wp_strip_all_tags( isset( $response['body'] ) ? (string) $response['body'] : '' ), 0, 200 );
	}

	/**
	 * Path of this site under a Forecourt prefix.
	 *
	 * @param string $prefix e.g. "/hooks/wordpress/".
	 * @return string
	 */
	private function site_path( $prefix ) {
		return $prefix . rawurlencode( Forecourt_Settings::site_id() );
	}

	/**
	 * Deliver one post event (companion format) to /hooks/wordpress/{site}.
	 *
	 * @param string $body       JSON body.
	 * @param string $webhook_id Stable message id.
	 * @return array|WP_Error
	 */
	public function send_event( $body, $webhook_id ) {
		return $this->request( 'POST', $this->site_path( '/hooks/wordpress/' ), $body, array(
			'headers' => self::signed_headers( $body, $webhook_id ),
			'timeout' => 15,
		) );
	}

	/**
	 * Deliver a lead to /hooks/leads/{site}.
	 *
	 * @param string $body       JSON body.
	 * @param string $webhook_id Stable message id.
	 * @param float  $timeout    Seconds (short while a shopper waits).
	 * @return array|WP_Error
	 */
	public function send_lead( $body, $webhook_id, $timeout = 15 ) {
		return $this->request( 'POST', $this->site_path( '/hooks/leads/' ), $body, array(
			'headers' => self::signed_headers( $body, $webhook_id ),
			'timeout' => $timeout,
		) );
	}

	/**
	 * The signed ping of "Test connection".
	 *
	 * @return array|WP_Error
	 */
	public function ping() {
		$body = wp_json_encode( array(
			'event'          => 'ping',
			'site_url'       => home_url( '/' ),
			'plugin_version' => FORECOURT_VERSION,
		) );
		return $this->request( 'POST', $this->site_path( '/hooks/wordpress/' ), $body, array(
			'headers' => self::signed_headers( $body ),
			'timeout' => 10,
		) );
	}

	/**
	 * Cars' state at every destination (GET /api/v1/sites/{site}/cars?refs=...), with the API key.
	 *
	 * @param string[] $refs Car refs (post ids).
	 * @return array|WP_Error
	 */
	public function car_status( $refs ) {
		$key = Forecourt_Settings::get( 'api_key' );
		if ( '' === $key ) {
			return new WP_Error( 'forecourt_no_api_key', __( 'No Forecourt API key is set (Settings → Forecourt).', 'forecourt' ) );
		}
		$refs = implode( ',', array_map( 'rawurlencode', array_map( 'strval', $refs ) ) );
		return $this->request( 'GET', $this->site_path( '/api/v1/sites/' ) . '/cars?refs=' . $refs, null, array(
			'headers' => array( 'Authorization' => 'Bearer ' . $key ),
			'timeout' => 8,
		) );
	}

	/**
	 * Forecourt's Sync Now for one car, signed with the webhook secret (one use per signature).
	 *
	 * @param string $ref Car ref (post id).
	 * @return array|WP_Error
	 */
	public function sync_now( $ref ) {
		$body = '{}';
		return $this->request( 'POST', $this->site_path( '/api/v1/sites/' ) . '/cars/' . rawurlencode( (string) $ref ) . '/sync', $body, array(
			'headers' => self::signed_headers( $body ),
			'timeout' => 10,
		) );
	}
}

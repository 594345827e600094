<?php
/**
 * Where each car stands on each marketplace, from Forecourt's car-status API, briefly cached.
 * Served to the admin screens by REST (GET /wp-json/forecourt/v1/status?ids=1,2) so no page
 * load waits on Forecourt; also POST /wp-json/forecourt/v1/flush for administrators.
 *
 * @package Forecourt
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Car status and the plugin's REST routes.
 */
class Forecourt_Status {

	const NS           = 'forecourt/v1';
	const TTL          = 60;
	const TTL_MOVING   = 10;
	const MAX_IDS      = 100;
	const LAST_KNOWN   = '_forecourt_status';
	const TRANSITIONAL = array( 'pending', 'creating', 'waiting', 'retrying' );

	/**
	 * Outbox.
	 *
	 * @var Forecourt_Outbox
	 */
	private $outbox;

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
		add_action( 'rest_api_init', array( $this, 'routes' ) );
	}

	/**
	 * Drop a car's cached status (after an event or a Sync Now for it).
	 *
	 * @param int $post_id Car.
	 */
	public static function forget( $post_id ) {
		delete_transient( 'forecourt_status_' . (int) $post_id );
	}

	/**
	 * REST routes.
	 */
	public function routes() {
		register_rest_route( self::NS, '/status', array(
			'methods'             => WP_REST_Server::READABLE,
			'callback'            => array( $this, 'rest_status' ),
			'permission_callback' => static function () {
				return current_user_can( 'edit_posts' );
			},
			'args'                => array(
				'ids' => array(
					'type'              => 'string',
					'required'          => true,
					'sanitize_callback' => 'sanitize_text_field',
				),
			),
		) );
		register_rest_route( self::NS, '/flush', array(
			'methods'             => WP_REST_Server::CREATABLE,
			'callback'            => array( $this, 'rest_flush' ),
			'permission_callback' => static function () {
				return current_user_can( 'manage_options' );
			},
		) );
	}

	/**
	 * POST /flush: send everything waiting now, backoff or not (waits for a running background send).
	 *
	 * @return WP_REST_Response
	 */
	public function rest_flush() {
		$summary = $this->outbox->flush( true, 60 );
		$stats   = $this->outbox->stats();
		return new WP_REST_Response( array(
			'sent'      => $summary['sent'],
			'failed'    => $summary['failed'],
			'retrying'  => $summary['retrying'],
			'skipped'   => $summary['skipped'],
			'pending'   => $stats['pending'],
			'lastError' => $stats['last_error'],
		), 200 );
	}

	/**
	 * GET /status?ids=1,2,3.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response
	 */
	public function rest_status( $request ) {
		$ids = array();
		foreach ( explode( ',', (string) $request->get_param( 'ids' ) ) as $id ) {
			$id = absint( $id );
			if ( $id && ! in_array( $id, $ids, true ) && current_user_can( 'edit_post', $id ) ) {
				$post = get_post( $id );
				if ( $post && Forecourt_Settings::is_car_type( $post->post_type ) ) {
					$ids[] = $id;
				}
			}
			if ( count( $ids ) >= self::MAX_IDS ) {
				break;
			}
		}
		return new WP_REST_Response( array( 'posts' => (object) $this->statuses( $ids ) ), 200 );
	}

	/**
	 * Status per car, cached, with the outbox's waiting changes laid over it.
	 *
	 * @param int[] $ids Cars.
	 * @return array<int, array>
	 */
	public function statuses( $ids ) {
		$out = array();
		if ( ! $ids ) {
			return $out;
		}
		if ( ! Forecourt_Settings::is_configured() ) {
			foreach ( $ids as $id ) {
				$out[ $id ] = $this->placeholder( 'not_configured', __( 'Not configured', 'forecourt' ), __( 'Forecourt is not set up yet: Settings → Forecourt.', 'forecourt' ) );
			}
			return $out;
		}
		$missing = array();
		foreach ( $ids as $id ) {
			$cached = get_transient( 'forecourt_status_' . $id );
			if ( is_array( $cached ) ) {
				$out[ $id ] = $cached;
			} else {
				$missing[] = $id;
			}
		}
		if ( $missing ) {
			$fetched = $this->fetch( $missing );
			foreach ( $missing as $id ) {
				$out[ $id ] = $fetched[ $id ];
			}
		}
		$waiting = $this->outbox->pending_for( $ids );
		foreach ( $waiting as $id => $info ) {
			$out[ $id ] = $this->overlay_pending( $out[ $id ], $info );
		}
		$ordered = array();
		foreach ( $ids as $id ) {
			$ordered[ $id ] = $out[ $id ];
		}
		return $ordered;
	}

	/**
	 * Ask Forecourt; remember the answer briefly, and for good as the car's last known state.
	 *
	 * @param int[] $ids Cars.
	 * @return array<int, array>
	 */
	private function fetch( $ids ) {
		$out      = array();
		$response = ( new Forecourt_Client() )->car_status( array_map( 'strval', $ids ) );
		$error    = '';
		if ( is_wp_error( $response ) ) {
			$error = $response->get_error_message();
		} elseif ( 200 !== $response['code'] || ! isset( $response['json']['cars'] ) || ! is_array( $response['json']['cars'] ) ) {
			$error = sprintf(
				/* translators: 1: HTTP status, 2: Forecourt's message */
				__( 'Forecourt\'s car-status API answered HTTP %1$d: %2$s', 'forecourt' ),
				is_array( $response ) ? $response['code'] : 0,
				Forecourt_Client::error_message( $response )
			);
		} else {
			$recent = $this->outbox->recently_sent( $ids );
			foreach ( $response['json']['cars'] as $car ) {
				$ref = isset( $car['carRef'] ) ? absint( $car['carRef'] ) : 0;
				if ( ! $ref || ! in_array( $ref, $ids, true ) ) {
					continue;
				}
				$entry = $this->normalise( $car, $ref );
				// Settling: a sync is under way, or a change went to Forecourt moments ago and
				// may not be applied yet. Cached briefly, and the screens keep polling.
				$settling = in_array( $ref, $recent, true );
				foreach ( $entry['destinations'] as $dest ) {
					$settling = $settling || in_array( $dest['status'], self::TRANSITIONAL, true );
				}
				$entry['settling'] = $settling;
				$out[ $ref ]       = $entry;
				set_transient( 'forecourt_status_' . $ref, $entry, $settling ? self::TTL_MOVING : self::TTL );
				$this->remember( $ref, $entry );
			}
		}
		foreach ( $ids as $id ) {
			if ( isset( $out[ $id ] ) ) {
				continue;
			}
			$last = get_post_meta( $id, self::LAST_KNOWN, true );
			$last = is_string( $last ) ? json_decode( $last, true ) : null;
			if ( is_array( $last ) && isset( $last['destinations'] ) ) {
				$last['stale']    = true;
				$last['settling'] = false;
				$last['problem']  = $error;
				$out[ $id ]       = $last;
			} else {
				$out[ $id ] = $this->placeholder( 'unreachable', __( 'Unknown', 'forecourt' ), $error );
			}
		}
		return $out;
	}

	/**
	 * Keep the last known state (and the marketplaces' listing ids) with the post.
	 *
	 * @param int   $post_id Car.
	 * @param array $entry   Normalised state.
	 */
	private function remember( $post_id, $entry ) {
		$json = wp_json_encode( $entry );
		if ( get_post_meta( $post_id, self::LAST_KNOWN, true ) !== $json ) {
			update_post_meta( $post_id, self::LAST_KNOWN, wp_slash( $json ) );
		}
	}

	/**
	 * One pseudo-destination row ("forecourt") when no marketplace state is known.
	 *
	 * @param string $status  State.
	 * @param string $label   Label.
	 * @param string $message Why.
	 * @return array
	 */
	private function placeholder( $status, $label, $message ) {
		return array(
			'carStatus'     => null,
			'destinations'  => array(
				array(
					'marketplace' => 'forecourt',
					'name'        => __( 'Forecourt', 'forecourt' ),
					'status'      => $status,
					'label'       => $label,
					'message'     => (string) $message,
					'fields'      => array(),
					'warnings'    => array(),
					'remoteId'    => null,
					'listingUrl'  => '',
					'lastSyncedAt' => null,
				),
			),
			'mappingErrors' => array(),
			'eventError'    => null,
			'problem'       => (string) $message,
		);
	}

	/**
	 * Labels of Forecourt's sync states.
	 *
	 * @param string $status State.
	 * @return string
	 */
	public static function label( $status ) {
		$labels = array(
			'synced'         => __( 'Synced', 'forecourt' ),
			'pending'        => __( 'Pending', 'forecourt' ),
			'creating'       => __( 'Sending', 'forecourt' ),
			'waiting'        => __( 'Waiting', 'forecourt' ),
			'retrying'       => __( 'Retrying', 'forecourt' ),
			'failed'         => __( 'Failed', 'forecourt' ),
			'paused'         => __( 'Paused', 'forecourt' ),
			'error'          => __( 'Error', 'forecourt' ),
			'deleted'        => __( 'Removed', 'forecourt' ),
			'skipped'        => __( 'Skipped', 'forecourt' ),
			'not_listed'     => __( 'Not listed', 'forecourt' ),
			'unknown'        => __( 'Not sent yet', 'forecourt' ),
			'unreachable'    => __( 'Unknown', 'forecourt' ),
			'not_configured' => __( 'Not configured', 'forecourt' ),
		);
		return isset( $labels[ $status ] ) ? $labels[ $status ] : ucfirst( str_replace( '_', ' ', $status ) );
	}

	/**
	 * Forecourt's car JSON → what the screens show.
	 *
	 * @param array $car     One car from the API.
	 * @param int   $post_id Car.
	 * @return array
	 */
	private function normalise( $car, $post_id ) {
		$destinations = array();
		$list         = isset( $car['destinations'] ) && is_array( $car['destinations'] ) ? $car['destinations'] : array();
		foreach ( $list as $dest ) {
			if ( ! is_array( $dest ) || empty( $dest['marketplace'] ) ) {
				continue;
			}
			$marketplace = sanitize_key( (string) $dest['marketplace'] );
			$status      = sanitize_key( isset( $dest['status'] ) ? (string) $dest['status'] : 'pending' );
			$error       = isset( $dest['lastError'] ) && is_array( $dest['lastError'] ) ? $dest['lastError'] : array();
			$message     = isset( $error['message'] ) && is_string( $error['message'] ) ? $error['message'] : '';
			$fields      = array();
			if ( isset( $error['fields'] ) && is_array( $error['fields'] ) ) {
				foreach ( $error['fields'] as $field => $problem ) {
					$fields[ (string) $field ] = is_scalar( $problem ) ? (string) $problem : wp_json_encode( $problem );
				}
			}
			$warnings = array();
			if ( isset( $dest['warnings'] ) && is_array( $dest['warnings'] ) ) {
				foreach ( $dest['warnings'] as $warning ) {
					if ( is_scalar( $warning ) ) {
						$warnings[] = (string) $warning;
					}
				}
			}
			if ( ! empty( $dest['destinationPaused'] ) && '' === $message ) {
				$message = __( 'Forecourt has paused this marketplace (its credentials were refused).', 'forecourt' );
			}
			if ( 'not_listed' === $status && '' === $message ) {
				$message = __( 'Nothing to list: the car is not published.', 'forecourt' );
			}
			$remote_id = isset( $dest['remoteId'] ) && is_scalar( $dest['remoteId'] ) ? (string) $dest['remoteId'] : null;
			$url       = '';
			foreach ( array( 'listingUrl', 'url' ) as $key ) {
				if ( ! empty( $dest[ $key ] ) && is_string( $dest[ $key ] ) && wp_http_validate_url( $dest[ $key ] ) ) {
					$url = $dest[ $key ];
					break;
				}
			}
			/**
			 * Filters the link to a car's live listing on a marketplace.
			 *
			 * @param string      $url         URL ('' for none).
			 * @param string      $marketplace Marketplace slug, e.g. "carzle".
			 * @param string|null $remote_id   The marketplace's listing id.
			 * @param int         $post_id     The car.
			 */
			$url            = (string) apply_filters( 'forecourt_listing_url', $url, $marketplace, $remote_id, $post_id );
			$destinations[] = array(
				'marketplace'  => $marketplace,
				'name'         => ucfirst( $marketplace ),
				'status'       => $status,
				'label'        => self::label( $status ),
				'message'      => $message,
				'fields'       => $fields,
				'warnings'     => $warnings,
				'remoteId'     => $remote_id,
				'listingUrl'   => 'deleted' === $status ? '' : $url,
				'lastSyncedAt' => isset( $dest['lastSyncedAt'] ) && is_string( $dest['lastSyncedAt'] ) ? $dest['lastSyncedAt'] : null,
			);
		}
		$car_status = isset( $car['status'] ) && is_string( $car['status'] ) ? $car['status'] : null;
		if ( ! $destinations ) {
			$entry = $this->placeholder( 'unknown', self::label( 'unknown' ), __( 'Forecourt has not received this car yet.', 'forecourt' ) );
			$entry['problem'] = '';
		} else {
			$entry = array(
				'carStatus'     => $car_status,
				'destinations'  => $destinations,
				'mappingErrors' => array(),
				'eventError'    => null,
				'problem'       => '',
			);
		}
		if ( isset( $car['mappingErrors'] ) && is_array( $car['mappingErrors'] ) ) {
			foreach ( $car['mappingErrors'] as $field => $problem ) {
				$entry['mappingErrors'][ (string) $field ] = is_scalar( $problem ) ? (string) $problem : wp_json_encode( $problem );
			}
		}
		if ( ! empty( $car['eventError'] ) ) {
			$entry['eventError'] = is_scalar( $car['eventError'] ) ? (string) $car['eventError'] : wp_json_encode( $car['eventError'] );
		}
		$entry['carStatus'] = $car_status;
		$entry['checkedAt'] = gmdate( 'c' );
		return $entry;
	}

	/**
	 * Changes still in the outbox: the marketplaces do not have them yet.
	 *
	 * @param array $entry State.
	 * @param array $info  ['pending' => n, 'error' => last error].
	 * @return array
	 */
	private function overlay_pending( $entry, $info ) {
		$message = sprintf(
			/* translators: %d: number of changes */
			_n( '%d change is waiting to be sent to Forecourt.', '%d changes are waiting to be sent to Forecourt.', $info['pending'], 'forecourt' ),
			$info['pending']
		);
		if ( '' !== $info['error'] ) {
			/* translators: %s: the last delivery error */
			$message .= ' ' . sprintf( __( 'Last attempt: %s', 'forecourt' ), $info['error'] );
		}
		foreach ( $entry['destinations'] as $i => $dest ) {
			$entry['destinations'][ $i ]['status']  = 'pending';
			$entry['destinations'][ $i ]['label']   = self::label( 'pending' );
			$entry['destinations'][ $i ]['message'] = $message;
		}
		$entry['outbox'] = $info;
		return $entry;
	}
}

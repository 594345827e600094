<?php
/**
 * The durable outbox: every event is a row first, and is sent in the background (Action
 * Scheduler when installed, WP-Cron otherwise), in order per car, with exponential backoff.
 * A page load only ever inserts a row; it never waits on Forecourt.
 *
 * @package Forecourt
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Outbox table, delivery and scheduling.
 */
class Forecourt_Outbox {

	const HOOK           = 'forecourt_flush_outbox';
	const HEARTBEAT      = 'forecourt_outbox_heartbeat';
	const GROUP          = 'forecourt';
	const DB_VERSION     = '1';
	const BACKLOG_ITEMS  = 50;
	const BACKLOG_AGE    = 900; // Seconds: the oldest waiting change is 15 minutes old.
	const MAX_BACKOFF    = 3600;
	const BATCH          = 200;

	/**
	 * Table name.
	 *
	 * @return string
	 */
	public static function table() {
		global $wpdb;
		return $wpdb->prefix . 'forecourt_outbox';
	}

	/**
	 * Create or upgrade the table (activation, or a plugin update).
	 */
	public static function install() {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$table   = self::table();
		$charset = $wpdb->get_charset_collate();
		$sql     = "CREATE TABLE {$table} (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_id bigint(20) unsigned NOT NULL DEFAULT 0,
  event varchar(32) NOT NULL DEFAULT '',
  payload longtext NOT NULL,
  payload_hash char(64) NOT NULL DEFAULT '',
  status varchar(16) NOT NULL DEFAULT 'pending',
  attempts int(10) unsigned NOT NULL DEFAULT 0,
  next_attempt_at datetime NOT NULL DEFAULT '1970-01-01 00:00:00',
  last_error text NULL,
  created_at datetime NOT NULL DEFAULT '1970-01-01 00:00:00',
  sent_at datetime NULL,
  PRIMARY KEY  (id),
  KEY status_next (status,next_attempt_at),
  KEY post_status (post_id,status)
) {$charset};";
		dbDelta( $sql );
		update_option( 'forecourt_db_version', self::DB_VERSION, false );
		if ( ! get_option( 'forecourt_install_id' ) ) {
			update_option( 'forecourt_install_id', strtolower( wp_generate_password( 12, false ) ), false );
		}
	}

	/**
	 * Hooks.
	 */
	public function register() {
		add_action( self::HOOK, array( $this, 'run_scheduled' ) );
		add_action( self::HEARTBEAT, array( $this, 'run_scheduled' ) );
		add_filter( 'cron_schedules', array( $this, 'cron_schedules' ) );
		add_action( 'init', array( $this, 'ensure_heartbeat' ) );
		add_action( 'admin_notices', array( $this, 'backlog_notice' ) );
		add_action( 'admin_post_forecourt_flush', array( $this, 'admin_flush' ) );
		if ( get_option( 'forecourt_db_version' ) !== self::DB_VERSION ) {
			self::install();
		}
	}

	/**
	 * A five-minute WP-Cron schedule for the heartbeat.
	 *
	 * @param array $schedules Schedules.
	 * @return array
	 */
	public function cron_schedules( $schedules ) {
		$schedules['forecourt_five_minutes'] = array(
			'interval' => 300,
			'display'  => __( 'Every five minutes (Forecourt outbox)', 'forecourt' ),
		);
		return $schedules;
	}

	/**
	 * The heartbeat retries what backed off even when no new change schedules a run.
	 */
	public function ensure_heartbeat() {
		if ( ! wp_next_scheduled( self::HEARTBEAT ) ) {
			wp_schedule_event( time() + 300, 'forecourt_five_minutes', self::HEARTBEAT );
		}
	}

	/**
	 * Whether Action Scheduler is there to run the outbox.
	 *
	 * @return bool
	 */
	public static function has_action_scheduler() {
		return function_exists( 'as_schedule_single_action' ) && function_exists( 'as_next_scheduled_action' )
			&& did_action( 'action_scheduler_init' );
	}

	/**
	 * Queue one event for a post.
	 *
	 * @param int    $post_id Post (0 for none).
	 * @param string $event   Event name (save_post, trash, untrash, delete, lead).
	 * @param array  $payload Body, JSON-encoded as stored.
	 * @return int|false Row id, or false when an identical change is already waiting.
	 */
	public function enqueue( $post_id, $event, $payload ) {
		global $wpdb;
		$body = wp_json_encode( $payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
		if ( false === $body ) {
			return false;
		}
		$hash  = hash( 'sha256', $event . "\n" . $this->comparable( $payload ) );
		$table = self::table();
		if ( 'lead' !== $event ) {
			// The same car saved twice with nothing changed: the waiting row already says it all.
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- the plugin's own table.
			$last = $wpdb->get_row( $wpdb->prepare( "SELECT status, payload_hash FROM {$table} WHERE post_id = %d AND event <> 'lead' ORDER BY id DESC LIMIT 1", $post_id ) );
			if ( $last && 'pending' === $last->status && $last->payload_hash === $hash ) {
				return false;
			}
		}
		$now = gmdate( 'Y-m-d H:i:s' );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- the plugin's own table.
		$wpdb->insert(
			$table,
			array(
				'post_id'         => (int) $post_id,
				'event'           => substr( $event, 0, 32 ),
				'payload'         => $body,
				'payload_hash'    => $hash,
				'status'          => 'pending',
				'attempts'        => 0,
				'next_attempt_at' => $now,
				'created_at'      => $now,
			),
			array( '%d', '%s', '%s', '%s', '%s', '%d', '%s', '%s' )
		);
		$id = (int) $wpdb->insert_id;
		$this->schedule( 0 );
		return $id ? $id : false;
	}

	/**
	 * The payload without what changes on every build (the plugin version, the site URL stay).
	 *
	 * @param array $payload Payload.
	 * @return string
	 */
	private function comparable( $payload ) {
		return (string) wp_json_encode( $payload );
	}

	/**
	 * Make sure a background run happens in $delay seconds (or sooner).
	 *
	 * @param int $delay Seconds.
	 */
	public function schedule( $delay = 0 ) {
		$when = time() + max( 0, (int) $delay );
		if ( self::has_action_scheduler() ) {
			$next = as_next_scheduled_action( self::HOOK, array(), self::GROUP );
			if ( true === $next || ( is_int( $next ) && $next <= $when ) ) {
				return;
			}
			if ( $next ) {
				as_unschedule_all_actions( self::HOOK, array(), self::GROUP );
			}
			as_schedule_single_action( $when, self::HOOK, array(), self::GROUP );
			return;
		}
		$next = wp_next_scheduled( self::HOOK );
		if ( $next && $next <= $when ) {
			return;
		}
		if ( $next ) {
			wp_unschedule_event( $next, self::HOOK );
		}
		wp_schedule_single_event( $when, self::HOOK );
	}

	/**
	 * The background run (WP-Cron or Action Scheduler).
	 */
	public function run_scheduled() {
		if ( ! Forecourt_Settings::is_configured() ) {
			return;
		}
		$this->flush( false, 20 );
	}

	/**
	 * Send what is due, oldest first, in order per car.
	 *
	 * @param bool       $force    Ignore backoff (an admin asked for it); waits for a running flush.
	 * @param int        $budget   Seconds to spend at most.
	 * @param int[]|null $post_ids Only these posts' rows.
	 * @return array{sent: int, failed: int, retrying: int, skipped: int, locked: bool}
	 */
	public function flush( $force = false, $budget = 20, $post_ids = null ) {
		global $wpdb;
		$summary = array(
			'sent'     => 0,
			'failed'   => 0,
			'retrying' => 0,
			'skipped'  => 0,
			'locked'   => false,
		);
		if ( ! Forecourt_Settings::is_configured() ) {
			return $summary;
		}
		$lock = 'forecourt_outbox_' . substr( md5( DB_NAME . '|' . $wpdb->prefix ), 0, 16 );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- a named lock: one sender at a time keeps per-car order.
		$got = $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, %d)', $lock, $force ? 60 : 0 ) );
		if ( '0' === (string) $got ) {
			$summary['locked'] = true;
			return $summary;
		}
		$started = microtime( true );
		$client  = new Forecourt_Client();
		$table   = self::table();
		try {
			$where = "status = 'pending'";
			if ( is_array( $post_ids ) ) {
				$post_ids = array_values( array_filter( array_map( 'absint', $post_ids ) ) );
				if ( ! $post_ids ) {
					return $summary;
				}
				$where .= ' AND post_id IN (' . implode( ',', $post_ids ) . ')';
			}
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- ids are absint'd above.
			$rows    = $wpdb->get_results( $wpdb->prepare( "SELECT * FROM {$table} WHERE {$where} ORDER BY id ASC LIMIT %d", self::BATCH ) );
			$blocked = array();
			$now     = time();
			foreach ( $rows as $row ) {
				$key = 'lead' === $row->event ? 'lead-' . $row->id : 'post-' . $row->post_id;
				if ( isset( $blocked[ $key ] ) ) {
					++$summary['skipped'];
					continue;
				}
				if ( ! $force && strtotime( $row->next_attempt_at . ' UTC' ) > $now ) {
					$blocked[ $key ] = true; // Later rows of this car wait behind it.
					++$summary['skipped'];
					continue;
				}
				$result = $this->deliver( $client, $row );
				if ( true === $result ) {
					$this->mark_sent( $row );
					++$summary['sent'];
				} elseif ( is_array( $result ) && 'failed' === $result['outcome'] ) {
					$this->mark_failed( $row, $result['error'] );
					++$summary['failed'];
				} else {
					$this->mark_retry( $row, $result['error'] );
					++$summary['retrying'];
					$blocked[ $key ] = true;
					if ( 'unreachable' === $result['outcome'] ) {
						break; // Forecourt is down: the rest would only wait on timeouts.
					}
				}
				if ( microtime( true ) - $started > $budget ) {
					break;
				}
			}
			$this->cleanup();
		} finally {
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
		}
		$this->schedule_next();
		return $summary;
	}

	/**
	 * Send one row.
	 *
	 * @param Forecourt_Client $client Client.
	 * @param object           $row    Outbox row.
	 * @return true|array{outcome: string, error: string}
	 */
	private function deliver( $client, $row ) {
		if ( 'lead' === $row->event ) {
			$data     = json_decode( $row->payload, true );
			$id       = is_array( $data ) && ! empty( $data['submission_id'] ) ? 'lead_' . preg_replace( '/[^A-Za-z0-9_-]/', '', (string) $data['submission_id'] ) : 'lead_' . $row->id;
			$response = $client->send_lead( $row->payload, $id, 15 );
		} else {
			$response = $client->send_event( $row->payload, $this->webhook_id( $row ) );
		}
		if ( is_wp_error( $response ) ) {
			return array(
				'outcome' => 'unreachable',
				'error'   => $response->get_error_message(),
			);
		}
		$code = $response['code'];
		if ( $code >= 200 && $code < 300 ) {
			return true;
		}
		/* translators: 1: HTTP status, 2: Forecourt's message */
		$error = sprintf( __( 'HTTP %1$d: %2$s', 'forecourt' ), $code, Forecourt_Client::error_message( $response ) );
		// Forecourt will never take this body: keep it visible, but do not hold the car's later changes.
		if ( in_array( $code, array( 400, 413, 415, 422 ), true ) ) {
			return array(
				'outcome' => 'failed',
				'error'   => $error,
			);
		}
		return array(
			'outcome' => 'retry',
			'error'   => $error,
		);
	}

	/**
	 * The webhook-id of a row: the same on every retry, so Forecourt drops a duplicate.
	 *
	 * @param object $row Outbox row.
	 * @return string
	 */
	private function webhook_id( $row ) {
		return 'msg_fc_' . preg_replace( '/[^a-z0-9]/', '', (string) get_option( 'forecourt_install_id', 'site' ) ) . '_' . $row->id;
	}

	/**
	 * Delivered.
	 *
	 * @param object $row Outbox row.
	 */
	private function mark_sent( $row ) {
		global $wpdb;
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$wpdb->update(
			self::table(),
			array(
				'status'     => 'sent',
				'attempts'   => (int) $row->attempts + 1,
				'last_error' => null,
				'sent_at'    => gmdate( 'Y-m-d H:i:s' ),
			),
			array( 'id' => (int) $row->id ),
			array( '%s', '%d', '%s', '%s' ),
			array( '%d' )
		);
		if ( $row->post_id ) {
			Forecourt_Status::forget( (int) $row->post_id );
		}
	}

	/**
	 * Refused for good.
	 *
	 * @param object $row   Outbox row.
	 * @param string $error Why.
	 */
	private function mark_failed( $row, $error ) {
		global $wpdb;
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$wpdb->update(
			self::table(),
			array(
				'status'     => 'failed',
				'attempts'   => (int) $row->attempts + 1,
				'last_error' => substr( $error, 0, 2000 ),
			),
			array( 'id' => (int) $row->id ),
			array( '%s', '%d', '%s' ),
			array( '%d' )
		);
		if ( $row->post_id ) {
			Forecourt_Status::forget( (int) $row->post_id );
		}
	}

	/**
	 * Try again later: 30 s, 1, 2, 4 … minutes, at most an hour, with ±20 % jitter.
	 *
	 * @param object $row   Outbox row.
	 * @param string $error Why.
	 */
	private function mark_retry( $row, $error ) {
		global $wpdb;
		$attempts = (int) $row->attempts + 1;
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$wpdb->update(
			self::table(),
			array(
				'attempts'        => $attempts,
				'next_attempt_at' => gmdate( 'Y-m-d H:i:s', time() + self::backoff( $attempts ) ),
				'last_error'      => substr( $error, 0, 2000 ),
			),
			array( 'id' => (int) $row->id ),
			array( '%d', '%s', '%s' ),
			array( '%d' )
		);
	}

	/**
	 * Seconds to wait after the given number of failed attempts.
	 *
	 * @param int $attempts Attempts so far (1 or more).
	 * @return int
	 */
	public static function backoff( $attempts ) {
		$base = min( self::MAX_BACKOFF, 30 * ( 2 ** min( 12, max( 0, $attempts - 1 ) ) ) );
		return max( 1, (int) round( $base * wp_rand( 80, 120 ) / 100 ) );
	}

	/**
	 * Schedule the next background run for the earliest waiting row.
	 */
	private function schedule_next() {
		global $wpdb;
		$table = self::table();
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$next = $wpdb->get_var( "SELECT MIN(next_attempt_at) FROM {$table} WHERE status = 'pending'" );
		if ( $next ) {
			$this->schedule( max( 0, strtotime( $next . ' UTC' ) - time() ) );
		}
	}

	/**
	 * Delivered rows are kept two weeks for support, refused ones a month.
	 */
	private function cleanup() {
		global $wpdb;
		$table = self::table();
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE status = 'sent' AND sent_at < %s LIMIT 500", gmdate( 'Y-m-d H:i:s', time() - 14 * DAY_IN_SECONDS ) ) );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE status = 'failed' AND created_at < %s LIMIT 500", gmdate( 'Y-m-d H:i:s', time() - 30 * DAY_IN_SECONDS ) ) );
	}

	/**
	 * Counts for the settings page and the backlog notice.
	 *
	 * @return array{pending: int, failed: int, oldest: int|null, last_error: string}
	 */
	public function stats() {
		global $wpdb;
		$table = self::table();
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$row = $wpdb->get_row( "SELECT SUM(status = 'pending') AS pending, SUM(status = 'failed') AS failed, MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldest FROM {$table}" );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$error = $wpdb->get_var( "SELECT last_error FROM {$table} WHERE status IN ('pending', 'failed') AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1" );
		return array(
			'pending'    => $row ? (int) $row->pending : 0,
			'failed'     => $row ? (int) $row->failed : 0,
			'oldest'     => $row && $row->oldest ? strtotime( $row->oldest . ' UTC' ) : null,
			'last_error' => $error ? (string) $error : '',
		);
	}

	/**
	 * Waiting rows per post, with the latest error: the Marketplaces column shows them as pending.
	 *
	 * @param int[] $post_ids Posts.
	 * @return array<int, array{pending: int, error: string}>
	 */
	public function pending_for( $post_ids ) {
		global $wpdb;
		$post_ids = array_values( array_filter( array_map( 'absint', (array) $post_ids ) ) );
		if ( ! $post_ids ) {
			return array();
		}
		$table = self::table();
		$placeholders = implode( ',', array_fill( 0, count( $post_ids ), '%d' ) );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the table name is ours; every id is a placeholder.
		$rows = $wpdb->get_results( $wpdb->prepare( "SELECT post_id, COUNT(*) AS n, MAX(last_error) AS error FROM {$table} WHERE status = 'pending' AND event <> 'lead' AND post_id IN ({$placeholders}) GROUP BY post_id", $post_ids ) );
		$out  = array();
		foreach ( $rows as $row ) {
			$out[ (int) $row->post_id ] = array(
				'pending' => (int) $row->n,
				'error'   => (string) $row->error,
			);
		}
		return $out;
	}

	/**
	 * Cars a change was delivered for in the last $seconds: Forecourt may still be working on it.
	 *
	 * @param int[] $post_ids Posts.
	 * @param int   $seconds  Window.
	 * @return int[]
	 */
	public function recently_sent( $post_ids, $seconds = 120 ) {
		global $wpdb;
		$post_ids = array_values( array_filter( array_map( 'absint', (array) $post_ids ) ) );
		if ( ! $post_ids ) {
			return array();
		}
		$table = self::table();
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- ids are absint'd.
		$ids = $wpdb->get_col( $wpdb->prepare( "SELECT DISTINCT post_id FROM {$table} WHERE status = 'sent' AND event <> 'lead' AND sent_at > %s AND post_id IN (" . implode( ',', $post_ids ) . ')', gmdate( 'Y-m-d H:i:s', time() - (int) $seconds ) ) );
		return array_map( 'intval', $ids );
	}

	/**
	 * "The outbox is backing up": more than 50 waiting changes, or the oldest 15 minutes old.
	 */
	public function backlog_notice() {
		if ( ! current_user_can( 'manage_options' ) || ! Forecourt_Settings::is_configured() ) {
			return;
		}
		$stats = $this->stats();
		$old   = $stats['oldest'] && ( time() - $stats['oldest'] ) > self::BACKLOG_AGE;
		if ( $stats['pending'] <= self::BACKLOG_ITEMS && ! $old ) {
			return;
		}
		$url = admin_url( 'options-general.php?page=' . Forecourt_Settings::PAGE );
		?>
		<div class="notice notice-warning forecourt-backlog">
			<p>
				<strong><?php esc_html_e( 'Forecourt:', 'forecourt' ); ?></strong>
				<?php
				echo esc_html( sprintf(
					/* translators: 1: number of changes, 2: how long ago, e.g. "20 mins" */
					_n( '%1$d change to your cars is waiting to be sent to Forecourt (the oldest from %2$s ago).', '%1$d changes to your cars are waiting to be sent to Forecourt (the oldest from %2$s ago).', $stats['pending'], 'forecourt' ),
					$stats['pending'],
					human_time_diff( (int) $stats['oldest'] )
				) );
				if ( $stats['last_error'] ) {
					echo ' ' . esc_html( sprintf(
						/* translators: %s: the last delivery error */
						__( 'Last error: %s', 'forecourt' ),
						$stats['last_error']
					) );
				}
				?>
				<a href="<?php echo esc_url( $url ); ?>"><?php esc_html_e( 'Forecourt settings', 'forecourt' ); ?></a>
			</p>
		</div>
		<?php
	}

	/**
	 * "Send waiting changes now" on the settings page.
	 */
	public function admin_flush() {
		check_admin_referer( 'forecourt_flush' );
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'forecourt' ), 403 );
		}
		$summary = $this->flush( true, 30 );
		add_settings_error(
			'forecourt',
			'forecourt_flushed',
			sprintf(
				/* translators: 1: sent, 2: still waiting, 3: refused */
				__( 'Sent %1$d, still waiting %2$d, refused %3$d.', 'forecourt' ),
				$summary['sent'],
				$summary['retrying'] + $summary['skipped'],
				$summary['failed']
			),
			$summary['retrying'] ? 'warning' : 'success'
		);
		set_transient( 'settings_errors', get_settings_errors(), 30 );
		wp_safe_redirect( admin_url( 'options-general.php?page=' . Forecourt_Settings::PAGE . '&settings-updated=1' ) );
		exit;
	}
}

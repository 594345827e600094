<?php
/**
 * Wires the parts together; activation and deactivation.
 *
 * @package Forecourt
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The plugin.
 */
final class Forecourt_Plugin {

	/**
	 * The one instance.
	 *
	 * @var Forecourt_Plugin|null
	 */
	private static $instance = null;

	/**
	 * Outbox.
	 *
	 * @var Forecourt_Outbox
	 */
	public $outbox;

	/**
	 * Events.
	 *
	 * @var Forecourt_Events
	 */
	public $events;

	/**
	 * Status.
	 *
	 * @var Forecourt_Status
	 */
	public $status;

	/**
	 * Leads.
	 *
	 * @var Forecourt_Leads
	 */
	public $leads;

	/**
	 * The plugin.
	 *
	 * @return Forecourt_Plugin
	 */
	public static function instance() {
		if ( null === self::$instance ) {
			self::$instance = new self();
			self::$instance->boot();
		}
		return self::$instance;
	}

	/**
	 * Register every hook.
	 */
	private function boot() {
		$this->outbox = new Forecourt_Outbox();
		$this->events = new Forecourt_Events( $this->outbox );
		$this->status = new Forecourt_Status( $this->outbox );
		$this->leads  = new Forecourt_Leads( $this->outbox );
		$this->outbox->register();
		$this->events->register();
		$this->status->register();
		$this->leads->register();
		if ( is_admin() ) {
			( new Forecourt_Settings() )->register();
			( new Forecourt_Admin( $this->events, $this->outbox ) )->register();
		}
		add_action( 'init', array( $this, 'load_textdomain' ) );
	}

	/**
	 * Translations from languages/.
	 */
	public function load_textdomain() {
		load_plugin_textdomain( 'forecourt', false, dirname( plugin_basename( FORECOURT_PLUGIN_FILE ) ) . '/languages' );
	}

	/**
	 * Activation: the outbox table and the background heartbeat.
	 */
	public static function activate() {
		Forecourt_Outbox::install();
		if ( ! wp_next_scheduled( Forecourt_Outbox::HEARTBEAT ) ) {
			add_filter( 'cron_schedules', array( self::instance()->outbox, 'cron_schedules' ) );
			wp_schedule_event( time() + 300, 'forecourt_five_minutes', Forecourt_Outbox::HEARTBEAT );
		}
	}

	/**
	 * Deactivation: stop the background runs (the outbox keeps its rows for reactivation).
	 */
	public static function deactivate() {
		wp_clear_scheduled_hook( Forecourt_Outbox::HOOK );
		wp_clear_scheduled_hook( Forecourt_Outbox::HEARTBEAT );
		if ( function_exists( 'as_unschedule_all_actions' ) ) {
			as_unschedule_all_actions( Forecourt_Outbox::HOOK, array(), Forecourt_Outbox::GROUP );
		}
	}
}

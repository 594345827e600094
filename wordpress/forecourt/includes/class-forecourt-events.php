<?php
/**
 * Which car changed in this request, and how: every hook only notes the post; at shutdown,
 * once meta, terms and photos are all written, each car becomes one event in the outbox.
 *
 * @package Forecourt
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Listens to WordPress and folds the changes of one request into one event per car.
 */
class Forecourt_Events {

	/**
	 * Outbox.
	 *
	 * @var Forecourt_Outbox
	 */
	private $outbox;

	/**
	 * Cars changed in this request: post id => ['untrashed' => bool].
	 *
	 * @var array<int, array{untrashed: bool}>
	 */
	private $touched = array();

	/**
	 * Cars deleted in this request: post id => body built before they went.
	 *
	 * @var array<int, array>
	 */
	private $deleted = array();

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
		add_action( 'wp_after_insert_post', array( $this, 'after_insert_post' ), 10, 1 );
		add_action( 'trashed_post', array( $this, 'touch' ), 10, 1 );
		add_action( 'untrashed_post', array( $this, 'untrashed' ), 10, 1 );
		add_action( 'before_delete_post', array( $this, 'before_delete' ), 10, 1 );
		add_action( 'deleted_post', array( $this, 'touch' ), 10, 1 );
		add_action( 'added_post_meta', array( $this, 'meta_changed' ), 10, 3 );
		add_action( 'updated_post_meta', array( $this, 'meta_changed' ), 10, 3 );
		add_action( 'deleted_post_meta', array( $this, 'meta_changed' ), 10, 3 );
		add_action( 'set_object_terms', array( $this, 'touch' ), 10, 1 );
		// Photos: attachments do not fire wp_after_insert_post.
		add_action( 'add_attachment', array( $this, 'touch' ), 10, 1 );
		add_action( 'attachment_updated', array( $this, 'attachment_updated' ), 10, 3 );
		add_action( 'delete_attachment', array( $this, 'touch' ), 10, 1 );
		add_action( 'shutdown', array( $this, 'commit' ), 0 );
	}

	/**
	 * Whether this request's changes should be ignored altogether.
	 *
	 * @return bool
	 */
	private function ignoring() {
		if ( defined( 'DOING_AUTOSAVE' ) && DOING_AUTOSAVE ) {
			return true;
		}
		if ( function_exists( 'wp_installing' ) && wp_installing() ) {
			return true;
		}
		return ! Forecourt_Settings::is_configured();
	}

	/**
	 * The car a post id stands for: itself, or the car a photo belongs to.
	 *
	 * @param int $post_id Post or attachment.
	 * @return int Car id, 0 for none.
	 */
	private function car_of( $post_id ) {
		$post = get_post( (int) $post_id );
		if ( ! $post ) {
			return 0;
		}
		if ( 'attachment' === $post->post_type ) {
			$parent = $post->post_parent ? get_post( (int) $post->post_parent ) : null;
			return $parent && Forecourt_Settings::is_car_type( $parent->post_type ) ? (int) $parent->ID : 0;
		}
		if ( 'revision' === $post->post_type || wp_is_post_revision( $post ) || wp_is_post_autosave( $post ) ) {
			return 0;
		}
		return Forecourt_Settings::is_car_type( $post->post_type ) ? (int) $post->ID : 0;
	}

	/**
	 * Note that a car (or a car's photo) changed.
	 *
	 * @param int $post_id Post or attachment id.
	 */
	public function touch( $post_id ) {
		if ( $this->ignoring() ) {
			return;
		}
		$car = $this->car_of( $post_id );
		if ( $car && ! isset( $this->touched[ $car ] ) ) {
			$this->touched[ $car ] = array( 'untrashed' => false );
		}
	}

	/**
	 * Fired after the post, its meta and its terms are saved.
	 *
	 * @param int $post_id Post id.
	 */
	public function after_insert_post( $post_id ) {
		$this->touch( $post_id );
	}

	/**
	 * A car came back from the trash.
	 *
	 * @param int $post_id Post id.
	 */
	public function untrashed( $post_id ) {
		$this->touch( $post_id );
		if ( isset( $this->touched[ (int) $post_id ] ) ) {
			$this->touched[ (int) $post_id ]['untrashed'] = true;
		}
	}

	/**
	 * A photo moved from one car to another: both changed.
	 *
	 * @param int     $post_id     Attachment id.
	 * @param WP_Post $post_after  After.
	 * @param WP_Post $post_before Before.
	 */
	public function attachment_updated( $post_id, $post_after, $post_before ) {
		$this->touch( $post_id );
		if ( $post_before && $post_before->post_parent && ( ! $post_after || $post_before->post_parent !== $post_after->post_parent ) ) {
			$this->touch( (int) $post_before->post_parent );
		}
	}

	/**
	 * Meta of a car or of a car's photo (Inventory Presser's photo number) changed.
	 *
	 * @param int|int[] $meta_id   Meta id(s).
	 * @param int       $object_id Post id.
	 * @param string    $meta_key  Meta key.
	 */
	public function meta_changed( $meta_id, $object_id, $meta_key ) {
		if ( Forecourt_Payload::is_noise_meta( (string) $meta_key ) ) {
			return;
		}
		$this->touch( $object_id );
	}

	/**
	 * A car is about to be deleted for good: build its body while it still exists.
	 *
	 * @param int $post_id Post id.
	 */
	public function before_delete( $post_id ) {
		if ( $this->ignoring() ) {
			return;
		}
		$post = get_post( (int) $post_id );
		if ( ! $post ) {
			return;
		}
		if ( 'attachment' === $post->post_type ) {
			$this->touch( $post_id );
			return;
		}
		if ( $this->car_of( $post_id ) ) {
			$this->deleted[ (int) $post_id ] = Forecourt_Payload::build( $post, 'delete' );
		}
	}

	/**
	 * Shutdown: one event per changed car into the outbox.
	 */
	public function commit() {
		$touched       = $this->touched;
		$deleted       = $this->deleted;
		$this->touched = array();
		$this->deleted = array();
		foreach ( $deleted as $post_id => $payload ) {
			unset( $touched[ $post_id ] );
			clean_post_cache( $post_id );
			if ( ! get_post( $post_id ) ) {
				$this->outbox->enqueue( $post_id, 'delete', $payload );
			} else {
				$touched[ $post_id ] = array( 'untrashed' => false ); // Deletion was cancelled.
			}
		}
		foreach ( $touched as $post_id => $info ) {
			$post = get_post( $post_id );
			if ( ! $post || ! Forecourt_Settings::is_car_type( $post->post_type ) ) {
				continue;
			}
			if ( 'auto-draft' === $post->post_status ) {
				continue; // An unsaved new car says nothing yet.
			}
			if ( 'trash' === $post->post_status ) {
				$event = 'trash';
			} elseif ( $info['untrashed'] ) {
				$event = 'untrash';
			} else {
				$event = 'save_post';
			}
			$this->outbox->enqueue( $post_id, $event, Forecourt_Payload::build( $post, $event ) );
		}
	}

	/**
	 * Queue the current state of cars now (Sync Now, bulk Sync Now).
	 *
	 * @param int[] $post_ids Cars.
	 * @return int[] The cars queued.
	 */
	public function queue_now( $post_ids ) {
		$queued = array();
		foreach ( $post_ids as $post_id ) {
			$post = get_post( (int) $post_id );
			if ( ! $post || ! Forecourt_Settings::is_car_type( $post->post_type ) || 'auto-draft' === $post->post_status ) {
				continue;
			}
			$event = 'trash' === $post->post_status ? 'trash' : 'save_post';
			$this->outbox->enqueue( (int) $post->ID, $event, Forecourt_Payload::build( $post, $event ) );
			$queued[] = (int) $post->ID;
		}
		return $queued;
	}
}

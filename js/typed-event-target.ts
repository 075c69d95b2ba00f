/**
 * An `EventTarget` whose `addEventListener` knows each event's class, so
 * `pc.addEventListener('dtmf', (e) => e.digit)` compiles under `strict`
 * without a cast, as the DOM's own event maps do.
 *
 * @example
 * ```ts
 * class Bell extends TypedEventTarget<{ ring: RingEvent }> {}
 * new Bell().addEventListener('ring', (e) => e.loudness);
 * ```
 * @packageDocumentation
 */

type AddOptions = Parameters<EventTarget['addEventListener']>[2];
type RemoveOptions = Parameters<EventTarget['removeEventListener']>[2];

/** A listener for events of class `E`: a function or an object with `handleEvent`. */
export type TypedListener<E extends Event> = ((ev: E) => void) | { handleEvent(ev: E): void };

/** `EventTarget` with an event map `M` (event type -> event class). */
export class TypedEventTarget<M extends { [K in keyof M]: Event }> extends EventTarget {
  /** Listeners by type, so subclasses can tell whether anyone listens (an `error` with no listener must not vanish). */
  readonly #listeners = new Map<string, Set<unknown>>();

  /** How many distinct listeners `type` has. */
  protected listenerCount(type: keyof M & string): number {
    return this.#listeners.get(type)?.size ?? 0;
  }

  override addEventListener<K extends keyof M & string>(
    type: K,
    listener: TypedListener<M[K]> | null,
    options?: AddOptions,
  ): void;
  override addEventListener(type: string, listener: TypedListener<Event> | null, options?: AddOptions): void;
  override addEventListener(type: string, listener: TypedListener<Event> | null, options?: AddOptions): void {
    if (!listener) return;
    super.addEventListener(type, listener, options);
    const set = this.#listeners.get(type) ?? new Set();
    set.add(listener);
    this.#listeners.set(type, set);
    // A `once` listener leaves after its first call.
    if (typeof options === 'object' && options?.once) super.addEventListener(type, () => set.delete(listener), { once: true });
  }

  override removeEventListener<K extends keyof M & string>(
    type: K,
    listener: TypedListener<M[K]> | null,
    options?: RemoveOptions,
  ): void;
  override removeEventListener(type: string, listener: TypedListener<Event> | null, options?: RemoveOptions): void;
  override removeEventListener(type: string, listener: TypedListener<Event> | null, options?: RemoveOptions): void {
    if (!listener) return;
    super.removeEventListener(type, listener, options);
    this.#listeners.get(type)?.delete(listener);
  }
}

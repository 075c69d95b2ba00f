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
  override addEventListener<K extends keyof M & string>(
    type: K,
    listener: TypedListener<M[K]> | null,
    options?: AddOptions,
  ): void;
  override addEventListener(type: string, listener: TypedListener<Event> | null, options?: AddOptions): void;
  override addEventListener(type: string, listener: TypedListener<Event> | null, options?: AddOptions): void {
    if (listener) super.addEventListener(type, listener, options);
  }

  override removeEventListener<K extends keyof M & string>(
    type: K,
    listener: TypedListener<M[K]> | null,
    options?: RemoveOptions,
  ): void;
  override removeEventListener(type: string, listener: TypedListener<Event> | null, options?: RemoveOptions): void;
  override removeEventListener(type: string, listener: TypedListener<Event> | null, options?: RemoveOptions): void {
    if (listener) super.removeEventListener(type, listener, options);
  }
}

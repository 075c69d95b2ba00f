/**
 * SIP.js's runtime classes, loaded on first use. The bot API mostly needs
 * sip.js's types only; `dial()` and `transfer('sip:...')` need `Inviter` and
 * `UserAgent.makeURI`. sip.js ships ESM only: `require()` of it works on every
 * Node this package supports (require(esm): 20.19+, 22.12+), and returns the
 * very module instance an application's `import 'sip.js'` gets.
 * @packageDocumentation
 */
import type * as SipJs from 'sip.js';
import { SipwireError } from '../errors';

let loaded: typeof SipJs | undefined;

/** The `sip.js` module. */
export function sipjs(): typeof SipJs {
  if (!loaded) {
    try {
      const m: typeof SipJs = require('sip.js');
      loaded = m;
    } catch (e) {
      throw new SipwireError('ERR_UNSUPPORTED', `sipwire/sip needs the peer dependency sip.js: ${(e as Error).message}`, { cause: e });
    }
  }
  return loaded;
}

/** A SIP URI from `sip:user@host` (or a bare `user`, taken at `domain`). */
export function toUri(target: string | SipJs.URI, domain: string): SipJs.URI {
  if (typeof target !== 'string') return target;
  const text = /^sips?:/i.test(target) ? target : `sip:${target}@${domain}`;
  const uri = sipjs().UserAgent.makeURI(text);
  if (!uri) throw new SipwireError('ERR_INVALID_ARG', `not a SIP URI: ${JSON.stringify(target)}`);
  return uri;
}

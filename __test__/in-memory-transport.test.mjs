// Two (or three) real SIP.js UserAgents joined by sipwire's in-memory link: no server, no SDP.
import test from "node:test";
import assert from "node:assert/strict";
import { UserAgent, Inviter, Messager, SessionState, TransportState } from "sip.js";
import { InMemorySipLink, createInMemoryTransportPair } from "../dist/sip.js";

const withTimeout = (p, ms, what) => {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); })]).finally(() => clearTimeout(t));
};

// SIP.js never needs an SDH for offerless INVITEs that get rejected; this one only proves it.
const noSdh = () => ({
  close() {}, hasDescription: () => false, sendDtmf: () => false,
  getDescription: () => Promise.reject(new Error("no SDH in this test")),
  setDescription: () => Promise.reject(new Error("no SDH in this test")),
});

function makeUa(transportConstructor, user) {
  return new UserAgent({
    uri: UserAgent.makeURI(`sip:${user}@local.invalid`),
    transportConstructor,
    sessionDescriptionHandlerFactory: noSdh,
    logLevel: "error", logBuiltinEnabled: false, logConfiguration: false,
  });
}

test("MESSAGE and a 486-rejected INVITE between two UAs on one link", { timeout: 10_000 }, async () => {
  const trace = [];
  const { link, a, b } = createInMemoryTransportPair("alice", "bob", { trace: (e) => trace.push(e) });
  const alice = makeUa(a, "alice");
  const bob = makeUa(b, "bob");
  const states = [];
  alice.transport.stateChange.addListener((s) => states.push(s));
  try {
    await alice.start();
    await bob.start();
    assert.deepEqual(states, [TransportState.Connecting, TransportState.Connected]);
    assert.deepEqual(link.connectedUsers.sort(), ["alice", "bob"]);

    const got = new Promise((resolve) => { bob.delegate = { onMessage: (m) => { resolve(m.request.body); m.accept(); } }; });
    const accepted = new Promise((resolve, reject) => {
      new Messager(alice, UserAgent.makeURI("sip:bob@local.invalid"), "hello bob")
        .message({ requestDelegate: { onAccept: (r) => resolve(r.message.statusCode), onReject: (r) => reject(new Error(`MESSAGE ${r.message.statusCode}`)) } })
        .catch(reject);
    });
    // Delivery is never synchronous: nothing reached bob inside send().
    assert.equal(trace.filter((e) => e.to === "bob").length, 1);
    assert.equal(await withTimeout(got, 5000, "bob gets MESSAGE"), "hello bob");
    assert.equal(await withTimeout(accepted, 5000, "200 to MESSAGE"), 200);

    let invitation;
    bob.delegate = { onInvite: (inv) => { invitation = inv; inv.reject({ statusCode: 486 }); } };
    const inviter = new Inviter(alice, UserAgent.makeURI("sip:bob@local.invalid"), { inviteWithoutSdp: true });
    const terminated = new Promise((resolve) => inviter.stateChange.addListener((s) => s === SessionState.Terminated && resolve()));
    const rejected = new Promise((resolve) => {
      inviter.invite({ requestDelegate: { onReject: (r) => resolve(r.message.statusCode) } });
    });
    assert.equal(await withTimeout(rejected, 5000, "486 reaches alice"), 486);
    await withTimeout(terminated, 5000, "caller session terminated");
    assert.equal(invitation.state, SessionState.Terminated);
    assert.ok(trace.some((e) => e.from === "alice" && e.to === "bob" && e.message.startsWith("ACK ")), "ACK for the 486 routed to bob");
  } finally {
    await alice.stop();
    await bob.stop();
  }
  assert.deepEqual(link.connectedUsers, []);
  assert.equal(alice.transport.state, TransportState.Disconnected);
});

test("unknown user gets 404 from the link; three UAs share one link", { timeout: 10_000 }, async () => {
  const link = new InMemorySipLink();
  const uas = ["alice", "bob", "carol"].map((u) => makeUa(link.transportFor(u), u));
  const [alice, , carol] = uas;
  try {
    for (const ua of uas) await ua.start();
    const status = (target) => new Promise((resolve, reject) => {
      new Messager(alice, UserAgent.makeURI(target), "hi")
        .message({ requestDelegate: { onAccept: (r) => resolve(r.message.statusCode), onReject: (r) => resolve(r.message.statusCode) } })
        .catch(reject);
    });
    const got = new Promise((resolve) => { carol.delegate = { onMessage: (m) => { m.accept(); resolve(m.request.from.uri.user); } }; });
    assert.equal(await withTimeout(status("sip:carol@local.invalid"), 5000, "carol 200"), 200);
    assert.equal(await got, "alice");
    assert.equal(await withTimeout(status("sip:nobody@local.invalid"), 5000, "nobody 404"), 404);
    await carol.stop();
    assert.equal(await withTimeout(status("sip:carol@local.invalid"), 5000, "carol gone 480"), 480);
  } finally {
    for (const ua of uas) await ua.stop();
  }
});

test("a user can have only one live transport per link", { timeout: 5_000 }, async () => {
  const link = new InMemorySipLink();
  const one = makeUa(link.transportFor("dup"), "dup");
  const two = makeUa(link.transportFor("dup"), "dup");
  await one.start();
  try {
    await assert.rejects(two.start(), /already has a live transport/);
  } finally {
    await one.stop();
    await two.stop();
  }
  // once the first is gone the name is free again
  await two.start();
  await two.stop();
});

import { TransportState } from "sip.js";

/** The transport state transitions SIP.js allows, shared by every sipwire transport. */
export const ALLOWED_TRANSITIONS: Readonly<Record<TransportState, readonly TransportState[]>> = {
  [TransportState.Connecting]: [TransportState.Connected, TransportState.Disconnecting, TransportState.Disconnected],
  [TransportState.Connected]: [TransportState.Disconnecting, TransportState.Disconnected],
  [TransportState.Disconnecting]: [TransportState.Connecting, TransportState.Disconnected],
  [TransportState.Disconnected]: [TransportState.Connecting],
};

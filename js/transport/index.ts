export { WsTransport, type WsTransportOptions } from "./ws-transport";
export {
  InMemorySipLink,
  InMemoryTransport,
  createInMemoryTransportPair,
  type InMemorySipLinkOptions,
  type InMemoryTransportOptions,
  type InMemoryTransportConstructor,
  type InMemoryTraceEvent,
} from "./in-memory";

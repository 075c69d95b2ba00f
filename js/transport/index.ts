export { WsTransport, type WsTransportOptions, type WsClientOptions } from "./ws-transport";
export {
  InMemorySipLink,
  InMemoryTransport,
  createInMemoryTransportPair,
  type InMemorySipLinkOptions,
  type InMemoryTransportOptions,
  type InMemoryTransportConstructor,
  type InMemoryTraceEvent,
} from "./in-memory";

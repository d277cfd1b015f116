import { WebSocketTransport } from './websocket-transport';
import { wsRuntime } from './ws-runtime';

// Under Node, WebSockets come from the `ws` package, which can listen. The browser build does not import
// this file, so `ws` and `node:http` stay out of it and the browser's own WebSocket is the default there.
WebSocketTransport.defaultRuntime = wsRuntime;

export { WebSocketTransport, wsRuntime };

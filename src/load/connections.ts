import { Agent, buildConnector, Client, type Dispatcher } from 'undici';

/**
 * One keep-alive connection of a virtual client, like the single connection a browser tab
 * keeps to an API: its create, token and stream requests go one after another over it, so a
 * client costs one socket, not one per request kind. A request for another origin (an
 * absolute `stream_url` naming another host) goes to the shared dispatcher instead.
 */
class ClientConnection extends Client {
  constructor(
    private readonly targetOrigin: string,
    private readonly elsewhere: Dispatcher,
    /** One URL object for every client: undici keeps the object it is given, but parses a string into a new one each. */
    targetUrl: URL,
    options: Client.Options,
  ) {
    super(targetUrl, options);
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return String(options.origin) === this.targetOrigin ? super.dispatch(options, handler) : this.elsewhere.dispatch(options, handler);
  }
}

/** Source addresses per process when spreading over loopback (see `LoadPlan.sourceNetwork`). */
const SOURCE_ADDRESSES = 250;

/** The connections of one load run: one per virtual client, all destroyed at the end. */
export class ClientConnections {
  private readonly open = new Set<Dispatcher>();
  private readonly connector: buildConnector.connector;
  private readonly targetOrigin: string;
  private readonly targetUrl: URL;
  /** The loopback source addresses, as strings made once and shared by every client. */
  private readonly sourceAddresses: readonly string[];
  /** Everything not bound to one client: other origins, and the open model's token spam. */
  readonly shared: Agent;

  constructor(
    targetUrl: string,
    connectTimeoutMs: number,
    /** First three octets of loopback source addresses to spread over; undefined = the system's choice. */
    sourceNetwork: string | undefined,
  ) {
    this.targetOrigin = new URL(targetUrl).origin;
    this.targetUrl = new URL(this.targetOrigin);
    this.sourceAddresses = sourceNetwork === undefined ? [] : Array.from({ length: SOURCE_ADDRESSES }, (_, index) => `${sourceNetwork}.${index + 1}`);
    this.connector = buildConnector({ timeout: connectTimeoutMs });
    this.shared = new Agent({ connect: { timeout: connectTimeoutMs }, pipelining: 1 });
  }

  /** A connection for virtual client number `client`. */
  connect(client: number): Dispatcher {
    const connection = new ClientConnection(this.targetOrigin, this.shared, this.targetUrl, {
      connect: this.connector,
      pipelining: 1,
      localAddress: this.sourceAddresses[client % SOURCE_ADDRESSES],
    });
    this.open.add(connection);
    return connection;
  }

  /** For a connection that served a single arrival (the open model). */
  async release(connection: Dispatcher): Promise<void> {
    this.open.delete(connection);
    await connection.destroy();
  }

  async destroyAll(): Promise<void> {
    await Promise.all([...this.open].map((connection) => connection.destroy()));
    this.open.clear();
    await this.shared.destroy();
  }
}

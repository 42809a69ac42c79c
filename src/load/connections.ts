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
    options: Client.Options,
  ) {
    super(targetOrigin, options);
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
  /** Everything not bound to one client: other origins, and the open model's token spam. */
  readonly shared: Agent;

  constructor(
    targetUrl: string,
    connectTimeoutMs: number,
    /** First three octets of loopback source addresses to spread over; undefined = the system's choice. */
    private readonly sourceNetwork: string | undefined,
  ) {
    this.targetOrigin = new URL(targetUrl).origin;
    this.connector = buildConnector({ timeout: connectTimeoutMs });
    this.shared = new Agent({ connect: { timeout: connectTimeoutMs }, pipelining: 1 });
  }

  /** A connection for virtual client number `client`. */
  connect(client: number): Dispatcher {
    const connection = new ClientConnection(this.targetOrigin, this.shared, {
      connect: this.connector,
      pipelining: 1,
      ...(this.sourceNetwork ? { localAddress: `${this.sourceNetwork}.${1 + (client % SOURCE_ADDRESSES)}` } : {}),
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

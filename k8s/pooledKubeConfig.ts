import { KubeConfig } from "@kubernetes/client-node";

type RequestContext = Parameters<KubeConfig["applySecurityAuthentication"]>[0];
type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/**
 * A KubeConfig whose requests share one connection pool. client-node builds a new undici Agent,
 * and so opens a new TLS connection, for every API call and watch; at a hundred clusters polled
 * and watched through a round that is a TLS handshake per request on both ends. The pool's TLS
 * options (CA, client certificate) come from the kubeconfig and do not change; headers (tokens)
 * are still set per request.
 */
export class PooledKubeConfig extends KubeConfig {
  private pool: Dispatcher | undefined;

  static from(source: KubeConfig): PooledKubeConfig {
    const pooled = new PooledKubeConfig();
    pooled.loadFromOptions({
      clusters: source.clusters,
      users: source.users,
      contexts: source.contexts,
      currentContext: source.currentContext,
    });
    return pooled;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return;
    this.pool ??= fresh;
    // The one just built has opened no connection yet; closing it costs nothing.
    if (fresh !== this.pool) void fresh.close();
    context.setDispatcher(this.pool);
  }
}

// Client of GNU Mailman 3's core REST API, version 3.1 (what the stack's mailman-core 0.5.2 =
// Mailman 3.3.10 serves on 8001). Endpoints and bodies as Mailman 3.3.10's own REST resources
// define them (mailman/rest/{domains,lists,members,listconf,moderation}.py); test/component/mailman
// runs them against real Mailman 3.3.10.
//
// Paths are built here from the base URL: Mailman's own self_link/Location URLs carry its bind
// address (http://0.0.0.0:8001/... in the cluster), which is not where a client reaches it.
import { ClientError, basicAuth, excerpt, joinUrl, parseJson, send, type FetchLike } from './http.js';

const SERVICE = 'Mailman REST';

export interface MailmanEndpoint {
  /** e.g. http://127.0.0.1:8001 (without /3.1) */
  baseUrl: string;
  username: string;
  password: string;
}

export interface MailmanOptions {
  fetchImpl?: FetchLike;
  timeoutMs?: number;
}

export interface MailmanDomain {
  mail_host: string;
  description: string | null;
  [key: string]: unknown;
}

export interface MailmanList {
  list_id: string;
  fqdn_listname: string;
  list_name: string;
  mail_host: string;
  display_name: string;
  member_count: number;
  [key: string]: unknown;
}

export interface MailmanMember {
  member_id: string;
  email: string;
  list_id: string;
  role: string;
  delivery_mode: string;
  [key: string]: unknown;
}

export interface HeldMessage {
  request_id: number;
  sender: string;
  subject: string;
  reason: string;
  message_id?: string;
  [key: string]: unknown;
}

export interface SubscribeOptions {
  displayName?: string;
  /** default true: no address verification mail */
  preVerified?: boolean;
  /** default true: no confirmation by the subscriber */
  preConfirmed?: boolean;
  /** default true: no moderator approval */
  preApproved?: boolean;
  /** default false: no welcome mail (it would land in the sink) */
  sendWelcomeMessage?: boolean;
  role?: 'member' | 'owner' | 'moderator' | 'nonmember';
}

export type HeldAction = 'accept' | 'discard' | 'reject' | 'defer';

/** "team@lists.example.test" -> "team.lists.example.test" (Mailman's list id). */
export function listIdOf(fqdnListname: string): string {
  const at = fqdnListname.indexOf('@');
  if (at <= 0 || at !== fqdnListname.lastIndexOf('@') || at === fqdnListname.length - 1) {
    throw new ClientError(SERVICE, 'input', `"${fqdnListname}" is not a list address (name@domain)`);
  }
  return fqdnListname.toLowerCase().replace('@', '.');
}

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

export class MailmanRest {
  readonly #endpoint: MailmanEndpoint;
  readonly #auth: string;
  readonly #fetch: FetchLike | undefined;
  readonly #timeoutMs: number;

  constructor(endpoint: MailmanEndpoint, options: MailmanOptions = {}) {
    joinUrl(SERVICE, endpoint.baseUrl, '/3.1'); // validates now
    if (!endpoint.username || !endpoint.password) throw new ClientError(SERVICE, 'input', 'Mailman REST needs a username and a password (Secret mailman-rest)');
    this.#endpoint = endpoint;
    this.#auth = basicAuth(endpoint.username, endpoint.password);
    this.#fetch = options.fetchImpl;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** One call; statuses in `ok` are returned, 401 is an auth error, anything else an http error. */
  async #call(method: string, path: string, json?: unknown, ok: number[] = [200]): Promise<Answer> {
    const url = joinUrl(SERVICE, this.#endpoint.baseUrl, `/3.1${path}`);
    const headers: Record<string, string> = { authorization: this.#auth, accept: 'application/json' };
    const init: RequestInit = { method, headers };
    if (json !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(json);
    }
    const res = await send(SERVICE, url, init, this.#timeoutMs, this.#fetch);
    if (res.status === 401) {
      throw new ClientError(
        SERVICE,
        'auth',
        `${SERVICE} refused the credentials of user "${this.#endpoint.username}" (401); check the mailman-rest username and password (.mailkind/secrets.json, or MAILKIND_MAILMAN_REST_USER / MAILKIND_MAILMAN_REST_PASSWORD)`,
        { status: 401, body: res.text },
      );
    }
    if (!ok.includes(res.status)) {
      // Mailman's errors are {"title", "description"}
      let detail = excerpt(res.text);
      try {
        const e = JSON.parse(res.text) as { title?: string; description?: string };
        if (e.description || e.title) detail = [e.title, e.description].filter(Boolean).join(': ');
      } catch {
        // not JSON: keep the excerpt
      }
      throw new ClientError(SERVICE, res.status === 400 ? 'input' : 'http', `${SERVICE}: ${method} /3.1${path} answered ${res.status}: ${detail}`, {
        status: res.status,
        body: res.text,
        retryable: res.status >= 500,
      });
    }
    const body = res.text.trim() === '' ? null : parseJson(SERVICE, `the answer to ${method} /3.1${path}`, res.text);
    return { status: res.status, body, headers: res.headers };
  }

  async #get<T>(path: string): Promise<T | null> {
    const r = await this.#call('GET', path, undefined, [200, 404]);
    return r.status === 404 ? null : (r.body as T);
  }

  /** GET /3.1/system/versions: also proves the credentials. */
  async versions(): Promise<{ mailman_version: string; python_version: string; api_version: string }> {
    return (await this.#call('GET', '/system/versions')).body as { mailman_version: string; python_version: string; api_version: string };
  }

  async getDomain(mailHost: string): Promise<MailmanDomain | null> {
    return this.#get<MailmanDomain>(`/domains/${encodeURIComponent(mailHost)}`);
  }

  async createDomain(mailHost: string, description?: string): Promise<MailmanDomain> {
    await this.#call('POST', '/domains', { mail_host: mailHost, ...(description === undefined ? {} : { description }) }, [201]);
    return (await this.getDomain(mailHost)) as MailmanDomain;
  }

  /** The domain, created when missing (a second caller racing us is fine). */
  async ensureDomain(mailHost: string, description?: string): Promise<MailmanDomain> {
    const existing = await this.getDomain(mailHost);
    if (existing) return existing;
    try {
      return await this.createDomain(mailHost, description);
    } catch (e) {
      const found = e instanceof ClientError && e.status === 400 ? await this.getDomain(mailHost) : null;
      if (found) return found;
      throw e;
    }
  }

  /** Deletes the domain and every list in it. False when there was none. */
  async deleteDomain(mailHost: string): Promise<boolean> {
    return (await this.#call('DELETE', `/domains/${encodeURIComponent(mailHost)}`, undefined, [204, 404])).status === 204;
  }

  async createList(fqdnListname: string, styleName?: string): Promise<MailmanList> {
    const listId = listIdOf(fqdnListname);
    await this.#call('POST', '/lists', { fqdn_listname: fqdnListname, ...(styleName === undefined ? {} : { style_name: styleName }) }, [201]);
    return (await this.getList(listId)) as MailmanList;
  }

  /** By list id (team.lists.example.test) or address (team@lists.example.test). */
  async getList(list: string): Promise<MailmanList | null> {
    return this.#get<MailmanList>(`/lists/${encodeURIComponent(list)}`);
  }

  /** False when there was no such list (so a cleanup can always call it). */
  async deleteList(list: string): Promise<boolean> {
    return (await this.#call('DELETE', `/lists/${encodeURIComponent(list)}`, undefined, [204, 404])).status === 204;
  }

  async listConfig(list: string): Promise<Record<string, unknown>> {
    return (await this.#call('GET', `/lists/${encodeURIComponent(list)}/config`)).body as Record<string, unknown>;
  }

  /** PATCH any subset of writable settings, e.g. { default_nonmember_action: 'accept' }. */
  async patchListConfig(list: string, settings: Record<string, unknown>): Promise<void> {
    await this.#call('PATCH', `/lists/${encodeURIComponent(list)}/config`, settings, [204]);
  }

  /**
   * Subscribes one address, by default with no verification, confirmation, approval or welcome
   * mail (201 at once). A 202 (pending) would mean the flags were ignored: an error here.
   */
  async subscribe(list: string, email: string, options: SubscribeOptions = {}): Promise<MailmanMember> {
    const listId = list.includes('@') ? listIdOf(list) : list.toLowerCase();
    const body: Record<string, unknown> = {
      list_id: listId,
      subscriber: email,
      pre_verified: options.preVerified ?? true,
      pre_confirmed: options.preConfirmed ?? true,
      pre_approved: options.preApproved ?? true,
      send_welcome_message: options.sendWelcomeMessage ?? false,
    };
    if (options.displayName !== undefined) body.display_name = options.displayName;
    if (options.role !== undefined) body.role = options.role;
    const r = await this.#call('POST', '/members', body, [201, 202]);
    if (r.status === 202) {
      throw new ClientError(SERVICE, 'http', `${SERVICE}: subscribing ${email} to ${listId} is pending (202) instead of done; pass preVerified, preConfirmed and preApproved`, { status: 202 });
    }
    const found = await this.#get<MailmanMember>(`/members/find?list_id=${encodeURIComponent(listId)}&subscriber=${encodeURIComponent(email)}`);
    const entries = (found as { entries?: MailmanMember[] } | null)?.entries ?? [];
    const member = entries.find((m) => m.email.toLowerCase() === email.toLowerCase());
    if (!member) throw new ClientError(SERVICE, 'protocol', `${SERVICE}: ${email} was subscribed to ${listId} (201) but is not found`);
    return member;
  }

  async members(list: string, role: 'member' | 'owner' | 'moderator' | 'nonmember' = 'member'): Promise<MailmanMember[]> {
    const r = (await this.#call('GET', `/lists/${encodeURIComponent(list)}/roster/${role}`)).body as { entries?: MailmanMember[] };
    // Mailman leaves out "entries" when the collection is empty
    return r.entries ?? [];
  }

  async unsubscribe(memberId: string): Promise<boolean> {
    return (await this.#call('DELETE', `/members/${encodeURIComponent(memberId)}`, undefined, [204, 404])).status === 204;
  }

  /** Messages held for moderation, e.g. to explain why a post never reached the members. */
  async held(list: string): Promise<HeldMessage[]> {
    const r = (await this.#call('GET', `/lists/${encodeURIComponent(list)}/held`)).body as { entries?: HeldMessage[] };
    return r.entries ?? [];
  }

  /** Decides on a held message (discard, accept, reject, defer). */
  async moderate(list: string, requestId: number, action: HeldAction): Promise<void> {
    await this.#call('POST', `/lists/${encodeURIComponent(list)}/held/${requestId}`, { action }, [204]);
  }
}

import type { Logger } from 'pino';

/** The logging calls interactions use (a pino logger or a Fastify request's child logger). */
export type Log = Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
import type { Resource } from '../fhir/resource-types.js';
import type { Entity } from '../audit/event.js';
import type { BlobInfo, SearchBudget, Store } from '../store/store.js';
import type { Principal } from '../auth/authenticator.js';
import type { AccessGrant, Interaction } from '../access/permissions.js';
import type { AccessFacts } from '../access/facts.js';
import type { SearchRegistry } from '../search/registry.js';
import type { Validator } from '../validation/validator.js';
import type { OperationOutcome } from '../errors.js';

/** A FHIR request as interactions see it: no HTTP framework types. */
export interface FhirRequest {
  interaction: Interaction;
  type?: string;
  id?: string;
  versionId?: string;
  /** For a compartment search (GET Patient/123/Observation): the compartment. */
  compartment?: { type: string; id: string };
  /** `$name` of an operation. */
  operation?: string;
  query: Record<string, string | string[]>;
  body?: unknown;
  /** A body that is not FHIR JSON (a Binary's raw content), unread. */
  raw?: NodeJS.ReadableStream;
  /** X-Security-Context of a raw Binary upload. */
  securityContext?: string;
  /** The Accept header (a Binary is served raw unless FHIR JSON is asked for). */
  accept?: string;
  /** Content type of the body, without parameters. */
  contentType?: string;
  ifMatch?: string;
  ifNoneExist?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  /** Prefer: return=... */
  preferReturn?: 'minimal' | 'representation' | 'OperationOutcome';
  /** Prefer: handling=... */
  preferHandling?: 'strict' | 'lenient';
  /** Prefer: respond-async (Bulk Data $export requires it). */
  preferAsync?: boolean;
}

export interface FhirResult {
  status: number;
  body?: Resource | OperationOutcome;
  /** Raw content instead of a FHIR body (a Binary read). */
  raw?: { contentType: string; size: number; stream: NodeJS.ReadableStream };
  location?: string;
  etag?: string;
  lastModified?: string;
  /** Other headers of the answer (e.g. the Content-Location of an asynchronous request's status). */
  headers?: Record<string, string>;
  /** What the answer concerns beyond what the request names (a Bulk Data export's job and patients): its AuditEvent lists them too. */
  auditEntities?: Entity[];
  /** The compartments of the resources in a search's page, as stored (`Type/id` -> comp): its AuditEvent names their patients without computing them again. */
  compartments?: ReadonlyMap<string, readonly string[]>;
}

/** What every interaction may use. Built by the executor per request; access decided once. */
export interface Context {
  store: Store;
  registry: SearchRegistry;
  validator: Validator;
  now: () => Date;
  baseUrl: string;
  requestId: string;
  log: Log;
  principal: Principal;
  /** The access decision for this request's type and interaction. */
  grant: AccessGrant;
  /** What the access decision rests on (who the actor is, whom they reach, an emergency access). */
  facts: AccessFacts;
  /** Query clauses the access decision adds to every query of this request, for a resource type. */
  accessClauses: (type: string) => Record<string, unknown>[];
  defaultCount: number;
  maxCount: number;
  limits: { binaryBytes: number; maxStringLength: number; maxArrayItems: number; maxElements: number };
  /** Records this request's searches may still examine: shared by its sub-queries, includes, and the entries of its Bundle. */
  budget?: SearchBudget;
  /** Shared by the entries of one transaction: what earlier entries stored, before the commit. */
  transaction?: TransactionScope;
  /** What a Subscription's rest-hook may call (CARNET_SUBSCRIPTION_ALLOWED_HOSTS); none when absent. */
  subscriptions?: { allowedHosts: readonly string[] };
}

export interface TransactionScope {
  /** Blobs of the Binaries created by the transaction, by `Binary/<id>`. */
  blobs: Map<string, BlobInfo>;
  /** Compartments of the resources the transaction writes, by `Type/<id>` (for Binary.securityContext). */
  compartments: Map<string, string[]>;
}

export interface Traits {
  /** No write: may run against a snapshot. */
  readOnly: boolean;
  /** Needs a resource type in the URL. */
  needsType: boolean;
}

export interface InteractionHandler {
  name: Interaction;
  traits: Traits;
  handle(req: FhirRequest, ctx: Context): Promise<FhirResult>;
}

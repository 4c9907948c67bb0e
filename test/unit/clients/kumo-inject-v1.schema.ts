// KumoMTA's POST /api/inject/v1 as documented, written down as JSON Schema for the client tests.
// Source (KumoCorp/kumomta at release 2026.06.23-f3af1cd0, the image the stack pins):
//   docs/reference/http/kumod/api_inject_v1_post.md      request body, 200 body, 422
//   docs/reference/http/kumod/schemas/InjectV1Request.md  envelope_sender, recipients, content, substitutions, ...
//   docs/reference/http/kumod/schemas/Recipient.md        email (required), name, substitutions, metadata
//   docs/reference/http/kumod/schemas/Content.md          a string, or {text_body, html_body, amp_html_body,
//                                                         attachments, headers, from, subject, reply_to}
//   docs/reference/http/kumod/schemas/FromHeader.md       {email (required), name}
//   docs/reference/http/kumod/schemas/InjectV1Response.md success_count, fail_count, failed_recipients, errors
// The docs do not say so, but every struct is #[serde(deny_unknown_fields)]
// (crates/kumod/src/http_server/inject_v1.rs): an unknown key is a rejected request, hence
// additionalProperties: false throughout. This is the pinned release's schema; the client itself
// uses only fields far older than it (envelope_sender, recipients[].email and .substitutions,
// content.{from, subject, text_body, headers}, substitutions), so it also works with older kumod.

const fromHeader = {
  type: 'object',
  required: ['email'],
  additionalProperties: false,
  properties: { email: { type: 'string', format: 'email' }, name: { type: ['string', 'null'] } },
} as const;

const builderContent = {
  type: 'object',
  additionalProperties: false,
  properties: {
    text_body: { type: ['string', 'null'] },
    html_body: { type: ['string', 'null'] },
    amp_html_body: { type: ['string', 'null'] },
    attachments: {
      type: 'array',
      items: {
        type: 'object',
        required: ['data', 'content_type'],
        additionalProperties: false,
        properties: {
          data: { type: 'string' },
          content_type: { type: 'string' },
          content_id: { type: ['string', 'null'] },
          file_name: { type: ['string', 'null'] },
          base64: { type: 'boolean' },
        },
      },
    },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    from: { anyOf: [fromHeader, { type: 'null' }] },
    subject: { type: ['string', 'null'] },
    reply_to: { anyOf: [fromHeader, { type: 'null' }] },
  },
  // inject_v1.rs compile(): "at least one of text_body and/or html_body must be given" (422)
  anyOf: [{ required: ['text_body'] }, { required: ['html_body'] }],
} as const;

export const injectV1RequestSchema = {
  $id: 'InjectV1Request',
  type: 'object',
  required: ['envelope_sender', 'recipients', 'content'],
  additionalProperties: false,
  properties: {
    envelope_sender: { type: 'string', format: 'email' },
    recipients: {
      type: 'array',
      items: {
        type: 'object',
        required: ['email'],
        additionalProperties: false,
        properties: {
          email: { type: 'string', format: 'email' },
          name: { type: ['string', 'null'] },
          substitutions: { type: 'object' },
          metadata: { type: 'object' },
        },
      },
    },
    content: { anyOf: [{ type: 'string' }, builderContent] },
    substitutions: { type: 'object' },
    deferred_spool: { type: 'boolean' },
    deferred_generation: { type: 'boolean' },
    trace_headers: {
      type: 'object',
      additionalProperties: false,
      properties: {
        received_header: { type: 'boolean' },
        supplemental_header: { type: 'boolean' },
        header_name: { type: 'string' },
        include_meta_names: { type: 'array', items: { type: 'string' } },
      },
    },
    template_dialect: { enum: ['Jinja', 'Static', 'Handlebars'] },
  },
} as const;

export const injectV1ResponseSchema = {
  $id: 'InjectV1Response',
  type: 'object',
  required: ['success_count', 'fail_count', 'failed_recipients', 'errors'],
  properties: {
    success_count: { type: 'integer', minimum: 0 },
    fail_count: { type: 'integer', minimum: 0 },
    failed_recipients: { type: 'array', items: { type: 'string' } },
    errors: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** The 200 example of docs/reference/http/kumod/api_inject_v1_post.md ("The response will look something like"). */
export const DOCUMENTED_SUCCESS = { success_count: 1, fail_count: 0, failed_recipients: [], errors: [] };

/**
 * Bodies kumod sends on errors, from the sources: AppError renders as "Error: <text>"
 * (crates/kumo-server-common/src/http_server/mod.rs, IntoResponse for AppError); auth refusals come
 * from the auth middleware (crates/kumo-server-common/src/http_server/auth.rs).
 */
export const DOCUMENTED_ERRORS = {
  wrongPassword: { status: 401, body: 'HttpBasicAuth Authentication Failed for mailkind' },
  // "<auth_info> not permitted <method> on <resource>"; the AuthInfo display form is abbreviated here
  noCredentials: { status: 401, body: 'peer=10.244.0.1 not permitted POST on http_listener/0.0.0.0:8000/api/inject/v1' },
  templateError: { status: 422, body: 'Error: failed parsing field \'content.text_body\' as template: syntax error' },
  shuttingDown: { status: 503, body: 'Error: shutting down' },
  spoolStarting: { status: 503, body: 'Error: waiting for spool startup' },
  tooLarge: { status: 413, body: 'Failed to buffer the request body: length limit exceeded' },
  internal: { status: 500, body: 'Error: envelope_sender: invalid address' },
} as const;

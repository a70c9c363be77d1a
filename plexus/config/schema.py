"""The config file's schemas (marshmallow): what each block may hold. Validation only; unknown keys
are rejected everywhere. `load.py` turns what they accept into the frozen types of `types.py`."""

import datetime

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

PROVIDER_TYPES = ("chat", "messages", "gemini", "responses", "vertex", "azure")
KINDS = ("chat", "embedding")
SELECTORS = ("random", "in_order", "least_busy", "latency", "cost")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class PricingSchema(StrictSchema):
    input = fields.Float(validate=validate.Range(min=0))
    output = fields.Float(validate=validate.Range(min=0))
    cached_input = fields.Float(validate=validate.Range(min=0))
    cache_write = fields.Float(validate=validate.Range(min=0))


class ModelInfoSchema(StrictSchema):
    pricing = fields.Nested(PricingSchema)
    context_window = fields.Integer(validate=validate.Range(min=1))  # tokens; wins over the catalog's


POSITIVE = validate.Range(min=0, min_inclusive=False)


class TimeoutsSchema(StrictSchema):
    connect = fields.Float(validate=POSITIVE)
    read = fields.Float(validate=POSITIVE)  # the default for first_byte and idle
    first_byte = fields.Float(validate=POSITIVE)
    idle = fields.Float(validate=POSITIVE)
    total = fields.Float(validate=POSITIVE)


class FailoverSchema(StrictSchema):
    retry_on = fields.List(fields.Integer(validate=validate.Range(min=400, max=599)))
    max_attempts = fields.Integer(validate=validate.Range(min=1, max=20))
    backoff_ms = fields.Float(validate=validate.Range(min=0, max=60_000))


class CooldownSchema(StrictSchema):
    initial_s = fields.Float(validate=POSITIVE)
    max_s = fields.Float(validate=POSITIVE)


class ProviderSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(PROVIDER_TYPES))
    api_base_url = fields.Url(schemes={"http", "https"}, require_tld=False)  # required but for vertex (below)
    api_key = fields.String(allow_none=True)
    headers = fields.Dict(keys=fields.String(), values=fields.String())
    models = fields.Dict(keys=fields.String(), values=fields.Nested(ModelInfoSchema, allow_none=True))
    timeouts = fields.Nested(TimeoutsSchema)
    default_max_tokens = fields.Integer(validate=validate.Range(min=1))
    # quirks: how this upstream differs from the API it claims to speak (see plexus/quirks.py)
    max_tokens_field = fields.String(validate=validate.OneOf(["max_tokens", "max_completion_tokens"]))
    max_tokens_cap = fields.Integer(validate=validate.Range(min=1))
    strip_cache_control = fields.Boolean()
    reasoning_field = fields.String(validate=validate.OneOf(["reasoning_content", "reasoning"]))
    extra_body = fields.Dict(keys=fields.String())
    think_tags = fields.Boolean()
    stream_options = fields.Boolean()
    # issue 19: Anthropic structured output natively (output_config.format) or as a forced tool
    structured_output = fields.String(validate=validate.OneOf(["native", "tool"]))
    # a client's hosted tool this provider has no equivalent for: left out (and named in the
    # x-plexus-dropped-tools header) or refused with a 400 (see README, "Tools across providers")
    unsupported_tools = fields.String(validate=validate.OneOf(["drop", "error"]))
    # ---- issue 17: embeddings, Vertex AI, Azure OpenAI, Cerebras (plexus/wire/vertex, plexus/wire/azure) ----
    embeddings = fields.Nested(lambda: EmbeddingOptionsSchema())
    vertex = fields.Nested(lambda: VertexSchema())
    azure = fields.Nested(lambda: AzureSchema())
    strip_fields = fields.List(fields.String(validate=validate.Length(min=1)))  # plexus/wire/compat.py
    tool_choice_named = fields.Boolean()
    flatten_content = fields.Boolean()
    tool_schema_strip = fields.List(fields.String(validate=validate.Length(min=1)))

    @validates_schema
    def base_url_or_vertex(self, data, **kwargs):
        if "api_base_url" not in data and data.get("type") != "vertex":
            raise ValidationError("required key is missing", "api_base_url")
        if data.get("type") == "vertex" and "vertex" not in data:
            raise ValidationError("a vertex provider needs its vertex block (project, location)", "vertex")
        if data.get("type") == "vertex" and "api_key" not in data and "credentials" not in data["vertex"]:
            raise ValidationError("give vertex.credentials (a service-account key) or api_key (an access token)", "vertex")
    # routing (issue 16): the catalog provider it is, and whether an empty answer fails over
    catalog_provider = fields.String(validate=validate.Length(min=1))
    empty_failover = fields.Boolean()


class TargetSchema(StrictSchema):
    provider = fields.String(required=True)
    model = fields.String(required=True, validate=validate.Length(min=1))
    weight = fields.Float(load_default=1.0, validate=validate.Range(min=0))
    max_tokens_cap = fields.Integer(validate=validate.Range(min=1))  # per-model quirks override the provider's
    extra_body = fields.Dict(keys=fields.String())
    structured_output = fields.String(validate=validate.OneOf(["native", "tool"]))  # per model (issue 19)


class AliasSchema(StrictSchema):
    kind = fields.String(load_default="chat", validate=validate.OneOf(KINDS))  # issue 17: embedding aliases
    selector = fields.String(load_default="random", validate=validate.OneOf(SELECTORS))
    targets = fields.List(
        fields.Nested(TargetSchema),
        required=True,
        validate=validate.Length(min=1, error="an alias needs at least one target"),
    )
    additional_aliases = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    # session affinity (issue 16): one conversation stays on one target for affinity_ttl seconds
    affinity = fields.Boolean(load_default=True)
    affinity_ttl = fields.Float(load_default=3600.0, validate=POSITIVE)

    @validates_schema
    def some_weight(self, data, **kwargs):
        targets = data.get("targets") or []
        if data.get("selector") == "random" and targets and not any(t["weight"] > 0 for t in targets):
            raise ValidationError("at least one target needs a weight above 0", "targets")


class EmbeddingOptionsSchema(StrictSchema):
    """How a provider serves embeddings (issue 17)."""

    batch_size = fields.Integer(validate=validate.Range(min=1))  # most inputs one upstream request may carry
    base64 = fields.Boolean()  # false: the upstream cannot encode base64, the gateway does


class VertexSchema(StrictSchema):
    """`type: vertex`: where and as whom (plexus/wire/vertex)."""

    project = fields.String(required=True, validate=validate.Length(min=1))
    location = fields.String(required=True, validate=validate.Length(min=1))  # a region, `us`/`eu`, or `global`
    credentials = fields.String(allow_none=True, validate=validate.Length(min=1))  # service-account JSON: a file path or the JSON itself
    anthropic_version = fields.String(validate=validate.Length(min=1))
    publishers = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.OneOf(["google", "anthropic"])))


class VersionString(fields.String):
    """A string that YAML may have read as a date (`api_version: 2024-10-21` unquoted)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime.date):
            value = value.isoformat()
        return super()._deserialize(value, attr, data, **kwargs)


class AzureSchema(StrictSchema):
    """`type: azure`: Azure OpenAI deployments (plexus/wire/azure)."""

    api_version = VersionString(validate=validate.Length(min=1))  # set: deployment URLs; unset: the v1 API
    auth = fields.String(validate=validate.OneOf(["api-key", "bearer"]))
    responses = fields.List(fields.String(validate=validate.Length(min=1)))  # deployments reached via the Responses API


# ---- per-key policy (issue 14): which aliases, how fast, how much, until when ----------------------

BUDGET_PERIODS = ("day", "week", "month", "total")
AT_LEAST_ONE = validate.Range(min=1)


class KeyLimitsSchema(StrictSchema):
    rpm = fields.Integer(allow_none=True, strict=True, validate=AT_LEAST_ONE)  # requests per rolling 60 s
    tpm = fields.Integer(allow_none=True, strict=True, validate=AT_LEAST_ONE)  # input + output tokens per rolling 60 s
    concurrent = fields.Integer(allow_none=True, strict=True, validate=AT_LEAST_ONE)  # in flight at once


class BudgetSchema(StrictSchema):
    usd = fields.Float(required=True, validate=validate.Range(min=0))
    period = fields.String(load_default="month", validate=validate.OneOf(BUDGET_PERIODS))


class Moment(fields.Field):
    """A point in time: a YAML timestamp or an ISO 8601 string; without a zone it is UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise ValidationError("must be a date and time like 2027-06-30T00:00:00Z") from None
        elif isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            value = datetime.datetime(value.year, value.month, value.day)
        if not isinstance(value, datetime.datetime):
            raise ValidationError("must be a date and time like 2027-06-30T00:00:00Z")
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


class KeyPolicySchema(StrictSchema):
    allowed_models = fields.List(fields.String(validate=validate.Length(min=1)), allow_none=True)  # absent: all
    limits = fields.Nested(KeyLimitsSchema, allow_none=True)
    budget = fields.Nested(BudgetSchema, allow_none=True)
    expires_at = Moment(allow_none=True)


# ---- end of per-key policy ----------------------------------------------------------------------


class KeySchema(KeyPolicySchema):
    secret = fields.String(validate=validate.Length(min=8, error="a key secret needs 8 or more characters"))
    # or only its SHA-256, so the file never holds the secret (what the dashboard writes)
    secret_sha256 = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 lowercase hex digits"))
    comment = fields.String(allow_none=True)
    created = fields.String(allow_none=True)  # ISO 8601, informational

    @validates_schema
    def one_secret(self, data, **kwargs):
        if ("secret" in data) == ("secret_sha256" in data):
            raise ValidationError("give exactly one of secret or secret_sha256", "secret")


class LoggingSchema(StrictSchema):
    level = fields.String(validate=validate.OneOf(["debug", "info", "warning", "error"]))
    format = fields.String(validate=validate.OneOf(["text", "json"]))


class MetricsSchema(StrictSchema):
    # a bearer token that may read GET /metrics (and nothing else); the admin key may too
    token = fields.String(allow_none=True, validate=validate.Length(min=8, error="a metrics token needs 8 or more characters"))


ADMIN_KEY_MIN = 16


class LimitsSchema(StrictSchema):
    """What one request may cost the gateway (issue 18); every key is optional (types.Limits holds
    the defaults)."""

    form_bytes = fields.Integer(validate=validate.Range(min=1024))  # a dashboard form's body
    config_form_bytes = fields.Integer(validate=validate.Range(min=1024))  # the raw config editor's
    form_fields = fields.Integer(validate=validate.Range(min=10))  # fields (or parts) in one form
    body_timeout_s = fields.Float(validate=POSITIVE)  # the longest any request body may take to arrive
    upstream_body_bytes = fields.Integer(validate=validate.Range(min=1024))  # a non-streamed upstream answer
    sse_event_bytes = fields.Integer(validate=validate.Range(min=1024))  # one event of an upstream stream


class RootSchema(StrictSchema):
    admin_key = fields.String(allow_none=True, validate=validate.Length(
        min=ADMIN_KEY_MIN, error=f"the admin key needs {ADMIN_KEY_MIN} or more characters"))
    database = fields.String(allow_none=True, validate=validate.Length(min=1))
    retention_days = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    failover = fields.Nested(FailoverSchema)
    cooldown = fields.Nested(CooldownSchema)
    logging = fields.Nested(LoggingSchema)
    metrics = fields.Nested(MetricsSchema)
    keys = fields.Dict(keys=fields.String(), values=fields.Raw())
    providers = fields.Dict(keys=fields.String(), values=fields.Raw())
    models = fields.Dict(keys=fields.String(), values=fields.Raw())
    # ---- hardening (issue 18) ----
    trusted_proxies = fields.List(fields.String(validate=validate.Length(min=1)))  # IPs or CIDR networks
    limits = fields.Nested(LimitsSchema)
    responses_retention_days = fields.Integer(allow_none=True, validate=validate.Range(min=0))  # 0: keep them

    @validates_schema
    def proxy_networks(self, data, **kwargs):
        from .types import networks  # ValueError names the bad entry

        try:
            networks(data.get("trusted_proxies") or ())
        except ValueError as e:
            raise ValidationError(str(e), "trusted_proxies") from None


ROOT, PROVIDER, ALIAS, KEY = RootSchema(), ProviderSchema(), AliasSchema(), KeySchema()

"""One settings object for everything configurable, read from the environment and `.env`."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from warden.errors import ConfigError
from warden.integrations import (
    MIN_PRODUCTION_KEY,
    MIN_PRODUCTION_SECRET,
    ApiKey,
    WebhookSubscriber,
    parse_api_keys,
)
from warden.strength import PLACEHOLDERS, secret_weakness

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
# The EEA, where the DSA applies: the default territorial scope of a decision.
EEA_COUNTRIES = (
    *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE"),
    *("IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"),
)
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """Third-party material beside the checkout (`../shared`: corpora, datasets, Slack specs)."""
    return Path(os.environ.get("WARDEN_SHARED_DIR", PACKAGE_ROOT.parent / "shared"))


def _is_placeholder(value: SecretStr | None) -> bool:
    return value is None or value.get_secret_value().strip().lower() in PLACEHOLDERS


class Settings(BaseSettings):
    """Everything Warden reads from its environment; see README "Configuration"."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    environment: Literal["development", "production"] = Field(
        "development", alias="WARDEN_ENV", description="production refuses placeholder secrets"
    )
    home: Path = Field(Path("var"), alias="WARDEN_HOME", description="data folder")
    policies_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [PACKAGE_ROOT / "knowledge" / "policies"],
        alias="WARDEN_POLICIES_DIRS",
        description="approved policy folders; only documents under them are cited as policy",
    )
    catalogue_dir: Path = Field(
        PACKAGE_ROOT / "knowledge" / "catalogue", alias="WARDEN_CATALOGUE_DIR"
    )
    gates_file: Path | None = Field(None, alias="WARDEN_GATES_FILE")

    # Vector index
    chroma_url: str | None = Field(None, alias="WARDEN_CHROMA_URL")
    collection: str = Field("policies", alias="WARDEN_COLLECTION")
    embeddings_url: str | None = Field(None, alias="WARDEN_EMBEDDINGS_URL")
    embeddings_model: str = Field("all-MiniLM-L6-v2", alias="WARDEN_EMBEDDINGS_MODEL")
    embeddings_api_key: SecretStr | None = Field(None, alias="WARDEN_EMBEDDINGS_API_KEY")

    # Store and checkpoints
    database_url: str | None = Field(None, alias="WARDEN_DATABASE_URL")

    # LLM (any OpenAI-compatible endpoint); unset base URL means no-LLM mode
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    llm_model: str = Field("gpt-4o-mini", alias="WARDEN_LLM_MODEL")
    llm_vision: bool = Field(False, alias="WARDEN_LLM_VISION")
    llm_timeout_s: float = Field(30.0, alias="WARDEN_LLM_TIMEOUT")
    llm_max_retries: int = Field(2, alias="WARDEN_LLM_MAX_RETRIES")
    rerank: bool = Field(
        False,
        alias="WARDEN_RERANK",
        description="re-order retrieval's top passages with the chat model (needs OPENAI_BASE_URL)",
    )
    # issue 12: how the model is called (agent.llm.parse_profile) and what traces may show
    llm_profile: str = Field(
        "auto",
        alias="WARDEN_LLM_PROFILE",
        pattern=r"^[A-Za-z0-9=, ]*$",
        description="auto | standard | reasoning, effort=low|medium|high, budget=N, tools",
    )
    trace_content: bool = Field(
        False,
        alias="WARDEN_TRACE_CONTENT",
        description="send content under review to LangSmith traces (redacted by default)",
    )

    # Enforcement platform: "local" (built in) or the URL of an enforcement API
    enforcement_api_url: str | None = Field(None, alias="WARDEN_ENFORCEMENT_API_URL")
    enforcement_api_key: SecretStr | None = Field(None, alias="WARDEN_ENFORCEMENT_API_KEY")

    # Slack
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    approvers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="WARDEN_APPROVERS"
    )
    approver_usergroup: str | None = Field(None, alias="WARDEN_APPROVER_USERGROUP")
    proposal_ttl_minutes: int = Field(240, alias="WARDEN_PROPOSAL_TTL_MINUTES")

    # People: who the command line acts as, and who belongs to the catalogue's reviewer groups
    operators: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        alias="WARDEN_OPERATORS",
        description="OS user -> Slack user id the CLI acts as (osuser=U123,...)",
    )
    reviewer_groups: Annotated[dict[str, list[str]], NoDecode] = Field(
        default_factory=dict,
        alias="WARDEN_REVIEWER_GROUPS",
        description="reviewer group -> Slack user ids (critical-harms=U1+U2,integrity=U3)",
    )
    territorial_scope: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(EEA_COUNTRIES),
        alias="WARDEN_TERRITORIAL_SCOPE",
        description="ISO country codes a decision applies in (a case may narrow it)",
    )

    # issue 14: the audit anchor's key (never stored in the database) and where checkpoints go
    audit_key: SecretStr | None = Field(
        None,
        alias="WARDEN_AUDIT_KEY",
        description="HMAC key signing audit head checkpoints; kept out of the database",
    )
    audit_anchors: Path | None = Field(
        None,
        alias="WARDEN_AUDIT_ANCHORS",
        description="JSONL file of signed audit head checkpoints (default: data folder)",
    )

    # issue 15: filing statements of reasons with the EU DSA Transparency Database
    dsa_api_url: str = Field(
        "https://transparency.dsa.ec.europa.eu/api/v1",
        alias="WARDEN_DSA_API_URL",
        description="the Transparency Database API (its batch endpoint is <url>/statements)",
    )
    dsa_api_token: SecretStr | None = Field(
        None, alias="WARDEN_DSA_API_TOKEN", description="the platform's API bearer token"
    )

    # issue 17: the HTTP API (keys, body cap) and the webhook subscribers
    api_keys: Annotated[list[ApiKey], NoDecode] = Field(
        default_factory=list,
        alias="WARDEN_API_KEYS",
        description="NAME:KEY:SCOPE[+SCOPE...], comma-separated (scopes cases, proposals, "
        "appeals, read)",
    )
    api_max_body_bytes: int = Field(1_000_000, ge=1024, alias="WARDEN_API_MAX_BODY_BYTES")
    webhooks: list[WebhookSubscriber] = Field(
        default_factory=list,
        alias="WARDEN_WEBHOOKS",
        description='JSON list of {"name", "url", "secret", "events": [...]}',
    )
    webhook_max_attempts: int = Field(8, ge=1, alias="WARDEN_WEBHOOK_MAX_ATTEMPTS")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_api_keys(cls, value: object) -> object:
        return parse_api_keys(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _strong_integration_secrets(self) -> Settings:
        if self.environment != "production":
            return self
        for key in self.api_keys:
            weakness = secret_weakness(key.key.get_secret_value(), MIN_PRODUCTION_KEY)
            if weakness:
                raise ValueError(
                    f"WARDEN_API_KEYS: the key of {key.name} {weakness}; production needs a "
                    "random key (e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`)"
                )
        for hook in self.webhooks:
            weakness = secret_weakness(hook.secret.get_secret_value(), MIN_PRODUCTION_SECRET)
            if weakness:
                raise ValueError(f"WARDEN_WEBHOOKS: the secret of {hook.name} {weakness}")
        return self

    # issue 13: on-call user groups and channels, by the names the catalogue uses
    oncall_groups: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        alias="WARDEN_ONCALL_GROUPS",
        description="catalogue on_call_group handle -> Slack subteam id (ts-oncall=S0123); "
        "unset handles are looked up with usergroups.list",
    )
    slack_channels: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        alias="WARDEN_SLACK_CHANNELS",
        description="catalogue channel name -> Slack channel id (ts-oncall=C0123); "
        "unset names are looked up once with conversations.list",
    )

    @field_validator("oncall_groups", "slack_channels", mode="before")
    @classmethod
    def _parse_slack_ids(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            name, sep, slack_id = (x.strip() for x in part.partition("="))
            if not sep or not name or not re.fullmatch(r"[A-Z][A-Z0-9]{2,30}", slack_id):
                raise ValueError(f"entry {part!r} must be name=ID (a Slack id such as S0123)")
            pairs[name.lstrip("#@")] = slack_id
        return pairs

    @field_validator("approvers", "policies_dirs", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("territorial_scope", mode="before")
    @classmethod
    def _split_codes(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @field_validator("operators", mode="before")
    @classmethod
    def _parse_operators(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            user, sep, slack_id = (x.strip() for x in part.partition("="))
            if not sep or not user or not SLACK_USER_ID.match(slack_id):
                raise ValueError(
                    f"WARDEN_OPERATORS entry {part!r} must be osuser=U123 (a Slack user id)"
                )
            pairs[user] = slack_id
        return pairs

    @field_validator("reviewer_groups", mode="before")
    @classmethod
    def _parse_groups(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        groups: dict[str, list[str]] = {}
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            group, sep, members = (x.strip() for x in part.partition("="))
            ids = [m for m in re.split(r"[+\s]+", members) if m]
            bad = [m for m in ids if not SLACK_USER_ID.match(m)]
            if not sep or not group or bad:
                raise ValueError(
                    f"WARDEN_REVIEWER_GROUPS entry {part!r} must be group=U1+U2 (Slack user ids)"
                )
            groups[group] = ids
        return groups

    @property
    def db_url(self) -> str:
        """The store's SQLAlchemy URL: the configured one, or SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'warden.db').resolve()}"

    @property
    def audit_anchors_path(self) -> Path:
        return self.audit_anchors or self.home / "audit-anchors.jsonl"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def checkpoint_path(self) -> Path:
        return self.home / "checkpoints.sqlite"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_base_url)

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home

    def require_llm(self) -> tuple[str, SecretStr]:
        """Return the endpoint and key, or explain what is missing."""
        if not self.openai_base_url:
            raise ConfigError("No LLM endpoint: set OPENAI_BASE_URL (and OPENAI_API_KEY).")
        key = self.openai_api_key
        if self.environment == "production" and _is_placeholder(key):
            raise ConfigError("OPENAI_API_KEY is missing or a placeholder; set the real key.")
        return self.openai_base_url, key or SecretStr("not-needed")

    def missing_slack_settings(self, *, http: bool) -> list[str]:
        """Name every Slack setting this transport needs that is unset or a placeholder."""
        needed = {"SLACK_BOT_TOKEN": self.slack_bot_token}
        if http:
            needed["SLACK_SIGNING_SECRET"] = self.slack_signing_secret
        else:
            needed["SLACK_APP_TOKEN"] = self.slack_app_token
        return [name for name, value in needed.items() if _is_placeholder(value)]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once per process (tests build `Settings(...)` directly).

    A value that cannot be used is a `ConfigError` naming the variable, not a traceback.
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"Invalid configuration: {problems}") from None

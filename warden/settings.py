"""One settings object for everything configurable, read from the environment and `.env`."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from warden.errors import ConfigError

PLACEHOLDERS = {"", "changeme", "change-me", "xoxb-your-token", "xapp-your-token", "secret", "todo"}
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

    @field_validator("approvers", "policies_dirs", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def db_url(self) -> str:
        """The store's SQLAlchemy URL: the configured one, or SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'warden.db').resolve()}"

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
    """Read the settings once per process (tests build `Settings(...)` directly)."""
    return Settings()

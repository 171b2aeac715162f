"""Settings, read from the environment with the prefix ``DUIJIE_``.

Every field here is documented in the README's settings table; a test fails when one is not.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "duijie"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUIJIE_", extra="ignore")

    home: Path = Field(
        default_factory=_default_home, description="数据目录：数据库、模型、索引、缓存"
    )
    database_url: str | None = Field(
        default=None, description="数据库地址；默认为数据目录下的 SQLite 文件（WAL）"
    )
    env: Literal["development", "production"] = Field(
        default="development", description="运行环境；production 拒绝不安全的默认值"
    )
    secret_key: str | None = Field(
        default=None, description="会话与 CSRF 签名密钥；开发环境下自动生成并保存在数据目录"
    )
    host: str = Field(default="127.0.0.1", description="duijie serve 监听地址")
    port: int = Field(default=8000, ge=1, le=65535, description="duijie serve 监听端口")

    embedding_model: str = Field(
        default="e5",
        description="向量模型：内置 e5 / static，或 sentence-transformers 模型名、本地路径",
    )
    query_prompt: str | None = Field(default=None, description="覆盖模型的查询前缀")
    document_prompt: str | None = Field(default=None, description="覆盖模型的文档前缀")
    embedding_batch_size: int = Field(default=32, ge=1, le=4096, description="编码批大小")
    embedding_device: str | None = Field(
        default=None, description="编码设备（cpu / cuda），默认自动"
    )

    embedded_worker: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="duijie serve 是否在进程内计算向量：auto 在 SQLite 下开启（无需另启进程），在 PostgreSQL 下关闭（由 duijie worker 计算）",
    )
    index_exact_max: int = Field(
        default=20_000,
        ge=1,
        description="向量数不超过此值时用精确检索（Flat），超过则用 IVF 倒排（nprobe 按实测召回率自动调节）",
    )
    max_upload_mb: int = Field(default=10, ge=1, le=512, description="上传文件大小上限（MB）")
    import_max_rows: int = Field(default=50_000, ge=1, description="单个导入文件的最大行数")
    moderation: Literal["post", "pre"] = Field(
        default="post",
        description="审核方式：post 先发布后审核（可随时驳回）；pre 先审核后发布（政府平台常用）",
    )
    registration_review: bool = Field(
        default=False,
        description="自助注册的单位须经组织方审核后才能登录（进入统一审核队列）",
    )
    trusted_proxies: str = Field(
        default="",
        description="可信反向代理的地址（逗号分隔）；仅这些地址发来的 X-Forwarded-For 被采信为客户端地址",
    )

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, value: object) -> object:
        if isinstance(value, str):
            return Path(value).expanduser()
        if isinstance(value, Path):
            return value.expanduser()
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production" and not self.secret_key:
            raise ValueError("生产环境必须设置 DUIJIE_SECRET_KEY（至少 32 个字符的随机串）")
        if self.env == "production" and self.secret_key and len(self.secret_key) < 32:
            raise ValueError("DUIJIE_SECRET_KEY 太短：生产环境至少需要 32 个字符")
        return self

    # --- derived locations -------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'duijie.db'}"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def attachments_dir(self) -> Path:
        return self.home / "attachments"

    def runs_embedded_worker(self) -> bool:
        """Whether a web process computes vectors itself, in a background thread."""
        if self.embedded_worker == "auto":
            return self.resolved_database_url.startswith("sqlite")
        return self.embedded_worker == "on"

    def ensure_home(self) -> Path:
        """Create the data directory tree; a clear error when it cannot be written."""
        from matcher.errors import StorageError

        try:
            for path in (self.home, self.models_dir, self.index_dir, self.cache_dir):
                path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"无法创建数据目录 {self.home}：{exc.strerror or exc}") from exc
        return self.home

    def resolved_secret_key(self) -> str:
        """The signing key: the setting, or one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        self.ensure_home()
        path = self.home / "secret_key"
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()

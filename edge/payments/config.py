"""Configuration of the payment gateway and of the lane's payment chain.

The daemon adds these to the lane file (``[payments.gateway]``, ``[payments.policy]``).
The secret is given as a value or, better, as the name of an environment
variable (set by systemd's ``LoadCredential``/``Environment``), and is read only
when the daemon starts payments, never at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pydantic import Field, SecretStr, model_validator

from contracts.schema import ConfigModel


class RetryConfig(ConfigModel):
    """Bounded retries with exponential back-off; never silent, never unbounded."""

    attempts: int = Field(
        3,
        ge=1,
        le=10,
        title="Attempts",
        description="Tries per gateway call, the first included.",
    )
    backoff_s: float = Field(
        0.5,
        ge=0,
        title="First back-off",
        description="Wait before the second try (s); doubled before each later try.",
    )
    backoff_max_s: float = Field(
        4.0, ge=0, title="Longest back-off", description="Cap on the wait between tries (s)."
    )

    def delay(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1 for the second try)."""
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** (retry - 1)))


class CallbackConfig(ConfigModel):
    host: str = Field(
        "0.0.0.0",  # noqa: S104 - the gateway reaches the lane from outside
        title="Listen address",
        description="Address the lane's callback receiver binds.",
    )
    port: int = Field(
        8091, ge=0, le=65535, title="Listen port", description="Port of the callback receiver."
    )
    path: str = Field(
        "/payments/notify",
        pattern=r"^/[A-Za-z0-9/_-]*$",
        title="Path",
        description="Path the gateway posts callbacks to.",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://",
        title="Public URL",
        description="The callback URL as the gateway reaches it (through NAT or a proxy); "
        "None: the gateway is configured with it out of band.",
    )


class GatewayConfig(ConfigModel):
    base_url: str = Field(
        pattern=r"^https?://[^/\s]+(/\S*)?$",
        title="Base URL",
        description="The gateway's API, e.g. https://pay.example.com or http://127.0.0.1:8090.",
    )
    merchant_id: str = Field(
        min_length=1, title="Merchant id", description="This site's id at the gateway."
    )
    secret: SecretStr | None = Field(
        None,
        title="Shared secret",
        description="HMAC key shared with the gateway; prefer secret_env.",
    )
    secret_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        title="Secret variable",
        description="Name of the environment variable that holds the shared secret.",
    )
    currency: str = Field(
        "CNY", pattern=r"^[A-Z]{3}$", title="Currency", description="ISO 4217 code of amounts."
    )
    connect_timeout_s: float = Field(
        2.0, gt=0, title="Connect timeout", description="TCP connect limit per request (s)."
    )
    read_timeout_s: float = Field(
        5.0,
        gt=0,
        title="Read timeout",
        description="Wait for an answer this long (s); after it the order is queried.",
    )
    retry: RetryConfig = Field(
        default_factory=RetryConfig,
        title="Retries",
        description="How often and how patiently each call is retried.",
    )
    query_schedule_s: tuple[float, ...] = Field(
        (2.0, 2.0, 3.0, 5.0),
        min_length=1,
        title="Query schedule",
        description="Pauses between order queries while the customer pays (s); the last repeats.",
    )
    max_clock_skew_s: float = Field(
        300.0,
        gt=0,
        title="Clock skew allowed",
        description="Callbacks whose timestamp is further from the lane's clock are refused (s).",
    )
    callback: CallbackConfig = Field(
        default_factory=CallbackConfig,
        title="Callback receiver",
        description="Where the lane listens for the gateway's signed callbacks.",
    )

    @model_validator(mode="after")
    def _one_secret(self) -> GatewayConfig:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("secret, secret_env: give exactly one of them")
        if any(pause <= 0 for pause in self.query_schedule_s):
            raise ValueError("query_schedule_s: every pause must be positive")
        return self

    def secret_bytes(self, environ: Mapping[str, str]) -> bytes:
        """The shared secret; ValueError naming the variable when it is unset or empty."""
        if self.secret is not None:
            return self.secret.get_secret_value().encode()
        name = self.secret_env or ""
        value = environ.get(name, "")
        if not value:
            raise ValueError(f"secret_env: environment variable {name} is not set or empty")
        return value.encode()


class Method(StrEnum):
    """Ways a vehicle settles its fee at an unattended lane."""

    PERMIT = "permit"
    PREPAID = "prepaid"
    QR = "qr"


class PostPay(StrEnum):
    """When the lane lets a vehicle through to be billed by plate later."""

    NEVER = "never"
    GATEWAY_DOWN = "gateway_down"
    LAST_RESORT = "last_resort"


class PaymentPolicy(ConfigModel):
    methods: tuple[Method, ...] = Field(
        (Method.PERMIT, Method.PREPAID, Method.QR),
        min_length=1,
        title="Methods",
        description="Methods tried in order: permit, prepaid, qr. A method that does not "
        "settle the fee falls through to the next.",
    )
    postpay: PostPay = Field(
        PostPay.NEVER,
        title="Post-pay",
        description="never; gateway_down: when the QR gateway cannot be reached; "
        "last_resort: whenever no method settled the fee. Needs a read plate.",
    )

    @model_validator(mode="after")
    def _no_repeats(self) -> PaymentPolicy:
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods: each method at most once, got {list(self.methods)}")
        return self

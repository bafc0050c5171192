"""The fields of a Linear webhook envelope that ingestion reads, typed at the edge."""

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr


class LinearEnvelope(BaseModel):
    """`{"type": "Issue", "action": "create", "webhookId": …, "webhookTimestamp": ms, …}`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: StrictStr = Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$")
    action: StrictStr = Field(pattern=r"^[a-z][a-zA-Z0-9_]{0,63}$")
    webhook_id: StrictStr | None = Field(default=None, alias="webhookId", min_length=1)
    webhook_timestamp: StrictInt | None = Field(default=None, alias="webhookTimestamp")

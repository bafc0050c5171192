"""The fields of Slack's bodies that ingestion reads, typed at the edge."""

from pydantic import BaseModel, ConfigDict, Field, StrictStr

NAME = r"^[a-z][a-z0-9_.]{0,63}$"
ID = r"^[A-Za-z0-9._:-]{1,128}$"


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class InnerEvent(Model):
    type: StrictStr = Field(pattern=NAME)


class EventCallback(Model):
    """Events API: `{"type": "event_callback", "event_id": "Ev…", "event": {"type": …}}`."""

    event_id: StrictStr = Field(pattern=ID)
    event: InnerEvent


class UrlVerification(Model):
    challenge: StrictStr


class RateLimited(Model):
    team_id: StrictStr | None = None
    minute_rate_limited: int | None = None


class View(Model):
    id: StrictStr | None = None
    hash: StrictStr = ""


class Action(Model):
    action_ts: StrictStr = ""


class Interaction(Model):
    """Interactivity: `payload={"type": "block_actions", "trigger_id": …, …}`."""

    type: StrictStr = Field(pattern=NAME)
    trigger_id: StrictStr | None = None
    view: View | None = None
    actions: list[Action] = []

    def delivery_key(self) -> str:
        """trigger_id, else the view and its hash (view_closed), else the action time."""
        if self.trigger_id:
            return self.trigger_id
        if self.view and self.view.id:
            return f"{self.view.id}:{self.view.hash}"
        return self.actions[0].action_ts if self.actions else ""


class SlashCommand(Model):
    """Slash command form fields."""

    command: StrictStr = Field(pattern=r"^/.+")
    trigger_id: StrictStr = Field(min_length=1)

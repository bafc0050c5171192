"""Rows behind the database channel layer (used when there is no Redis)."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from rest_framework.authtoken.models import Token


class ChannelMessage(models.Model):
    """One message waiting for its channel's consumer; expired rows are pruned on send."""

    channel = models.CharField(max_length=100)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["channel", "id"], name="core_chanmsg_channel_id")]

    def __str__(self):
        return f"message for {self.channel}"


class ChannelGroupMember(models.Model):
    """A channel's membership of a group, as channels' `group_add` makes it."""

    group = models.CharField(max_length=100)
    channel = models.CharField(max_length=100)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "channel"], name="core_group_member_unique")
        ]

    def __str__(self):
        return f"{self.channel} in {self.group}"


class Generation(models.Model):
    """A random token per cache name that changes with every change (see core/generations.py).

    Without Redis this row is how other processes learn that flags, configuration or
    extensions changed; with Redis it is written too, so a flushed Redis never looks current.
    """

    name = models.CharField(max_length=50, unique=True)
    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.name}: {self.token}"


class MetricTotal(models.Model):
    """One metric sample's running total, shared by every process when there is no Redis
    (orchestrator/health/metric_stores.py). `name` is the encoded name, labels and bucket."""

    name = models.TextField(unique=True)
    value = models.FloatField(default=0.0)

    def __str__(self):
        return f"{self.name} = {self.value}"


class MetricBucket(models.Model):
    """A metric's increments within one 5-second bucket: what the dashboard charts draw."""

    bucket = models.BigIntegerField(help_text="epoch seconds // 5")
    name = models.TextField()
    value = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bucket", "name"], name="core_metric_bucket_unique")
        ]

    def __str__(self):
        return f"{self.name} @ {self.bucket} = {self.value}"


class ApiToken(Token):
    """The admin's view of an API token: it names the token by its user and a key prefix,
    never the whole key, so no admin page, breadcrumb or history entry (which stores
    `str(obj)`) shows a usable secret. DRF's own `TokenProxy` prints the key."""

    class Meta:
        proxy = True
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.key[:4]}… ({self.user})"

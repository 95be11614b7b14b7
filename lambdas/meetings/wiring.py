"""The one composition root: every service of a Lambda container, built from `Settings`.

A container is built on first use and then kept, as Lambda keeps an execution environment:
each adapter and service once, lazily, so a function's cold start pays only for what it
uses (the cleanup never imports the events path, no function imports the idempotency
utility until a create carries an Idempotency-Key). Modules are imported where a part is
first built for the same reason.

The container owns the clock every service decides by. Tests and benchmarks that need
another instant replace `container().clock` (services read it at each call); `reset()`
forgets the container, the settings and the boto3 clients, as a new execution environment
would — the local runtime and tests call it when they change the environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, TypeVar

from meetings.adapters import aws_clients
from meetings.settings import Settings, get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import (
        BasePersistenceLayer,
    )

    from meetings.adapters.artifacts import RecordingsBucket
    from meetings.adapters.bus import EventBusPublisher
    from meetings.adapters.chime import ChimeGateway
    from meetings.adapters.delivery_queue import SqsDeliveryQueue
    from meetings.adapters.kms import KmsSecretCipher
    from meetings.adapters.media_pipelines import MediaPipelinesGateway
    from meetings.adapters.table.activity import ActivityTable
    from meetings.adapters.table.cleanup import CleanupTable
    from meetings.adapters.table.recordings import RecordingsTable
    from meetings.adapters.table.sequences import EventSequenceTable
    from meetings.adapters.table.store import MeetingTable
    from meetings.adapters.table.webhooks import WebhookTable
    from meetings.domain.url_safety import TargetPolicy
    from meetings.service.attending import Attending
    from meetings.service.cleanup import CleanupService
    from meetings.service.creating import CreatingMeetings
    from meetings.service.ending import EndingMeetings
    from meetings.service.events import ChimeEventService
    from meetings.service.media_events import MediaEvents
    from meetings.service.provisioning import Provisioning
    from meetings.service.publishing import PublishingService
    from meetings.service.querying import MeetingQueries
    from meetings.service.recording import Recordings
    from meetings.service.recording_lifecycle import RecordingLifecycle
    from meetings.service.shared import MeetingUseCase
    from meetings.service.transcription import Transcriptions
    from meetings.service.webhook_delivery import WebhookDelivering, WebhookFanout
    from meetings.service.webhooks import WebhookAdmin

Clock = Callable[[], int]
UseCaseT = TypeVar("UseCaseT", bound="MeetingUseCase")
# Join and the database read run side by side; a few threads per container are plenty.
WORKER_THREADS: Final = 8


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def machine_clock_ms() -> int:
    """The machine's real-time clock, read straight from the system: the time a remote peer
    compares with its own (a webhook signature's timestamp). A runtime that shifts the time
    the services decide by (the local stack's world clock replaces `time.time`) leaves it."""
    return time.clock_gettime_ns(time.CLOCK_REALTIME) // 1_000_000


class Container:
    """One execution environment's adapters and services (each built on first use)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock: Clock = wall_clock_ms

    def now(self) -> int:
        """The container's clock, looked up at each call: a replaced clock counts at once."""
        return self.clock()

    # --- adapters ------------------------------------------------------------------------

    @cached_property
    def meeting_store(self) -> MeetingTable:
        from meetings.adapters.table.store import MeetingTable  # noqa: PLC0415 - see module doc

        return MeetingTable(
            self.settings.table_name,
            reconcile_interval_seconds=self.settings.reconcile_interval_seconds,
            retention_days=self.settings.retention_days,
            end_settle_seconds=self.settings.end_settle_seconds,
        )

    @cached_property
    def activity_store(self) -> ActivityTable:
        from meetings.adapters.table.activity import ActivityTable  # noqa: PLC0415

        return ActivityTable(self.settings.table_name)

    @cached_property
    def cleanup_queries(self) -> CleanupTable:
        from meetings.adapters.table.cleanup import CleanupTable  # noqa: PLC0415

        return CleanupTable(self.settings.table_name)

    @cached_property
    def chime(self) -> ChimeGateway:
        from meetings.adapters.chime import ChimeGateway  # noqa: PLC0415

        return ChimeGateway()

    @cached_property
    def bus(self) -> EventBusPublisher:
        from meetings.adapters.bus import EventBusPublisher  # noqa: PLC0415

        return EventBusPublisher(self.settings.event_bus_name, self.settings.domain_event_source)

    @cached_property
    def recordings_store(self) -> RecordingsTable:
        from meetings.adapters.table.recordings import RecordingsTable  # noqa: PLC0415

        return RecordingsTable(self.settings.table_name)

    @cached_property
    def media_pipelines(self) -> MediaPipelinesGateway:
        from meetings.adapters.media_pipelines import MediaPipelinesGateway  # noqa: PLC0415

        return MediaPipelinesGateway(self.settings.recordings_bucket, self.settings.account_id)

    @cached_property
    def artifacts(self) -> RecordingsBucket:
        from meetings.adapters.artifacts import RecordingsBucket  # noqa: PLC0415

        return RecordingsBucket(self.settings.recordings_bucket)

    @cached_property
    def executor(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="meetings-api")

    # --- the request path's use cases ----------------------------------------------------

    def _use_case(self, kind: type[UseCaseT], **extra: Any) -> UseCaseT:
        return kind(
            store=self.meeting_store,
            chime=self.chime,
            settings=self.settings,
            executor=self.executor,
            clock=self.now,
            **extra,
        )

    @cached_property
    def attending(self) -> Attending:
        from meetings.service.attending import Attending  # noqa: PLC0415

        return self._use_case(Attending)

    @cached_property
    def provisioning(self) -> Provisioning:
        from meetings.service.provisioning import Provisioning  # noqa: PLC0415

        return self._use_case(Provisioning)

    @cached_property
    def creating(self) -> CreatingMeetings:
        from meetings.service.creating import CreatingMeetings  # noqa: PLC0415

        return CreatingMeetings(
            attending=self.attending,
            store=self.meeting_store,
            chime=self.chime,
            settings=self.settings,
            executor=self.executor,
            clock=self.now,
            idempotency_records=self._idempotency_records,
        )

    def _idempotency_records(self) -> BasePersistenceLayer:
        # Built on the first create with an Idempotency-Key: Powertools' idempotency utility
        # stays out of every other cold start.
        from meetings.adapters.table.idempotency import persistence_layer  # noqa: PLC0415

        return persistence_layer(self.settings.table_name, self.meeting_store.client)

    @cached_property
    def recording_lifecycle(self) -> RecordingLifecycle:
        from meetings.service.recording_lifecycle import RecordingLifecycle  # noqa: PLC0415

        return RecordingLifecycle(
            self.recordings_store, self.media_pipelines, self.artifacts, clock=self.now
        )

    @cached_property
    def recordings(self) -> Recordings:
        from meetings.service.recording import Recordings  # noqa: PLC0415

        return self._use_case(
            Recordings, lifecycle=self.recording_lifecycle, artifacts=self.artifacts
        )

    @cached_property
    def transcriptions(self) -> Transcriptions:
        from meetings.service.transcription import Transcriptions  # noqa: PLC0415

        return self._use_case(
            Transcriptions, transcriber=self.chime, recordings=self.recordings_store
        )

    @cached_property
    def ending(self) -> EndingMeetings:
        from meetings.service.ending import EndingMeetings  # noqa: PLC0415

        return self._use_case(EndingMeetings)

    @cached_property
    def queries(self) -> MeetingQueries:
        from meetings.service.querying import MeetingQueries  # noqa: PLC0415

        return self._use_case(MeetingQueries)

    # --- the other functions' services ---------------------------------------------------

    @cached_property
    def chime_events(self) -> ChimeEventService:
        from meetings.service.events import ChimeEventService  # noqa: PLC0415

        return ChimeEventService(self.activity_store, self.meeting_store, clock=self.now)

    @cached_property
    def media_events(self) -> MediaEvents:
        from meetings.service.media_events import MediaEvents  # noqa: PLC0415

        return MediaEvents(self.recording_lifecycle, self.transcriptions, clock=self.now)

    @cached_property
    def cleanup(self) -> CleanupService:
        from meetings.service.cleanup import CleanupService  # noqa: PLC0415

        return CleanupService(
            self.cleanup_queries,
            self.meeting_store,
            self.chime,
            clock=self.now,
            reconcile_interval_seconds=self.settings.reconcile_interval_seconds,
        )

    @cached_property
    def publishing(self) -> PublishingService:
        from meetings.service.publishing import PublishingService  # noqa: PLC0415

        return PublishingService(self.bus, self.meeting_store, self.event_sequences, self.now)

    # --- webhooks (docs/webhooks.md) -----------------------------------------------------

    @cached_property
    def event_sequences(self) -> EventSequenceTable:
        from meetings.adapters.table.sequences import EventSequenceTable  # noqa: PLC0415

        return EventSequenceTable(self.settings.table_name)

    @cached_property
    def webhook_store(self) -> WebhookTable:
        from meetings.adapters.table.webhooks import WebhookTable  # noqa: PLC0415

        return WebhookTable(self.settings.table_name)

    @cached_property
    def secret_cipher(self) -> KmsSecretCipher:
        from meetings.adapters.kms import KmsSecretCipher  # noqa: PLC0415

        return KmsSecretCipher(self.settings.webhook_key_id)

    @cached_property
    def delivery_queue(self) -> SqsDeliveryQueue:
        from meetings.adapters.delivery_queue import SqsDeliveryQueue  # noqa: PLC0415

        return SqsDeliveryQueue(
            self.settings.webhook_delivery_queue_url, self.settings.webhook_retry_queue_url
        )

    @cached_property
    def webhook_targets(self) -> TargetPolicy:
        from meetings.domain.url_safety import TargetPolicy  # noqa: PLC0415

        return TargetPolicy(self.settings.webhook_targets)

    @cached_property
    def webhook_admin(self) -> WebhookAdmin:
        from meetings.adapters.webhook_http import SystemResolver  # noqa: PLC0415
        from meetings.service.webhooks import WebhookAdmin  # noqa: PLC0415

        return WebhookAdmin(
            self.webhook_store,
            self.secret_cipher,
            self.delivery_queue,
            SystemResolver(),
            clock=self.now,
            targets=self.webhook_targets,
        )

    @cached_property
    def webhook_fanout(self) -> WebhookFanout:
        from meetings.service.webhook_delivery import WebhookFanout  # noqa: PLC0415

        return WebhookFanout(self.webhook_store, self.delivery_queue, clock=self.now)

    @cached_property
    def webhook_delivering(self) -> WebhookDelivering:
        from meetings.adapters.webhook_http import PinnedHttpSender, SystemResolver  # noqa: PLC0415
        from meetings.domain.webhook_retries import RetryPolicy  # noqa: PLC0415
        from meetings.service.webhook_delivery import (  # noqa: PLC0415
            DeliverySettings,
            WebhookDelivering,
        )

        settings = self.settings
        return WebhookDelivering(
            self.webhook_store,
            self.secret_cipher,
            self.delivery_queue,
            SystemResolver(),
            PinnedHttpSender(),
            clock=self.now,
            signing_clock=machine_clock_ms,
            settings=DeliverySettings(
                policy=RetryPolicy(
                    base_seconds=settings.webhook_retry_base_seconds,
                    horizon_seconds=settings.webhook_retry_horizon_seconds,
                ),
                disable_after_ms=settings.webhook_disable_after_seconds * 1000,
                targets=self.webhook_targets,
            ),
        )


_container: Container | None = None


def container() -> Container:
    """This execution environment's container, built from its settings on first use."""
    global _container  # noqa: PLW0603 - one container per execution environment
    if _container is None:
        _container = Container(get_settings())
    return _container


def reset() -> None:
    """Forget the container, the settings and the clients: the next use builds them again
    from the environment, as a new execution environment would."""
    global _container  # noqa: PLW0603
    _container = None
    get_settings.cache_clear()
    aws_clients.reset_clients()

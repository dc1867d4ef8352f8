"""The activity API's output shape, for the OpenAPI schema (contract section 10)."""

from rest_framework import serializers


class ActivityTotalsSerializer(serializers.Serializer):
    notified = serializers.IntegerField()
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    ignored = serializers.IntegerField()
    missed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="offers not answered yet: their request still waits")
    acceptance_rate = serializers.FloatField(allow_null=True, help_text="accepted / (accepted + rejected + ignored)")
    avg_response_seconds = serializers.FloatField(allow_null=True, help_text="over accepted and rejected rows")
    avg_active_session_count = serializers.FloatField(allow_null=True)
    delivered = serializers.IntegerField(help_text="offers whose delivery the app proved (ack or seen/)")
    seen = serializers.IntegerField(help_text="offers the overlay showed")
    delivery_rate = serializers.FloatField(allow_null=True, help_text="delivered / notified")
    delivered_answered = serializers.IntegerField(help_text="delivered offers the mitra accepted or rejected")
    response_rate = serializers.FloatField(allow_null=True, help_text="delivered_answered / delivered")
    delivered_acceptance_rate = serializers.FloatField(
        allow_null=True, help_text="accepted / (accepted + rejected + ignored), delivered rows only"
    )
    accepted_sessions = serializers.IntegerField(help_text="sessions accepted in the range")
    early_ends = serializers.IntegerField(help_text="of those, ended early by the mitra")
    early_end_rate = serializers.FloatField(allow_null=True)


class ActivityRowSerializer(ActivityTotalsSerializer):
    mitra_id = serializers.IntegerField()
    display_name = serializers.CharField()


class ActivityResultSerializer(serializers.Serializer):
    results = ActivityRowSerializer(many=True)
    totals = ActivityTotalsSerializer()

"""Business metrics, as CloudWatch embedded metric format lines in the function's log.

Each count is written twice: with the service dimension alone (what the alarms in
template.yaml watch) and, when given, with its finer dimensions (country, scope) for
finding where a problem is."""

from __future__ import annotations

from smsconsent import settings


def count(name: str, value: float = 1, **dimensions: str | None) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric  # lazy: only on writes

    service = {"service": settings.get().service_name}
    finer = {k: v for k, v in dimensions.items() if v}
    for extra in ({}, finer) if finer else ({},):
        with single_metric(
            name=name, unit=MetricUnit.Count, value=value, default_dimensions=service
        ) as metric:
            for key, val in extra.items():
                metric.add_dimension(name=key, value=str(val))

"""Job-board adapters, one module per board, all behind `sources.base.Source`."""

from __future__ import annotations

from scraping_app.sources.arbeitnow import ArbeitnowSource
from scraping_app.sources.ashby import AshbySource
from scraping_app.sources.base import FetchResult, PostingData, SearchQuery, Source
from scraping_app.sources.greenhouse import GreenhouseSource
from scraping_app.sources.himalayas import HimalayasSource
from scraping_app.sources.lever import LeverSource
from scraping_app.sources.remoteok import RemoteOKSource
from scraping_app.sources.remotive import RemotiveSource
from scraping_app.sources.sample import SampleSource

SOURCE_CLASSES: dict[str, type[Source]] = {
    cls.kind: cls
    for cls in (SampleSource, RemotiveSource, ArbeitnowSource, RemoteOKSource, GreenhouseSource, LeverSource,
                AshbySource, HimalayasSource)
}


def source_class(kind: str) -> type[Source]:
    try:
        return SOURCE_CLASSES[kind]
    except KeyError:
        raise ValueError(f"Unknown source kind {kind!r}; choose one of: {', '.join(SOURCE_CLASSES)}") from None


__all__ = ["SOURCE_CLASSES", "FetchResult", "PostingData", "SearchQuery", "Source", "source_class"]

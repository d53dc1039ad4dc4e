"""Adapters: each reads its exports into the canonical staging tables, behind one interface.

The CRM adapters read their CRM's exports through its alias file; the generic adapter reads any
export through the config's column mapping and the generic header aliases.
"""

from pipeline_analytics.ingest.adapters.common import Adapter, CrmAdapter
from pipeline_analytics.ingest.adapters.generic import GenericAdapter
from pipeline_analytics.ingest.adapters.hubspot import HubSpotAdapter
from pipeline_analytics.ingest.adapters.pipedrive import PipedriveAdapter
from pipeline_analytics.ingest.adapters.salesforce import SalesforceAdapter

CRM_ADAPTERS: dict[str, type[CrmAdapter]] = {
    "salesforce": SalesforceAdapter,
    "hubspot": HubSpotAdapter,
    "pipedrive": PipedriveAdapter,
}


def source_adapter(name: str) -> Adapter:
    """The adapter a source's `adapter` setting names."""
    return GenericAdapter() if name == GenericAdapter.name else CRM_ADAPTERS[name]()


__all__ = ["CRM_ADAPTERS", "Adapter", "CrmAdapter", "GenericAdapter", "source_adapter"]

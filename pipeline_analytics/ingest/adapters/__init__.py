"""CRM adapters: each reads its CRM's exports through its alias file into the canonical tables."""

from pipeline_analytics.ingest.adapters.common import CrmAdapter
from pipeline_analytics.ingest.adapters.hubspot import HubSpotAdapter
from pipeline_analytics.ingest.adapters.pipedrive import PipedriveAdapter
from pipeline_analytics.ingest.adapters.salesforce import SalesforceAdapter

CRM_ADAPTERS: dict[str, type[CrmAdapter]] = {
    "salesforce": SalesforceAdapter,
    "hubspot": HubSpotAdapter,
    "pipedrive": PipedriveAdapter,
}


def crm_adapter(name: str) -> CrmAdapter:
    return CRM_ADAPTERS[name]()


__all__ = ["CRM_ADAPTERS", "CrmAdapter", "crm_adapter"]

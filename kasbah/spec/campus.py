"""The campus spec: what every phase shares (site, ASNs, address space, energy, WAN, storage, monitoring)."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import Field, model_validator

from kasbah.catalog.models import Catalog
from kasbah.spec.base import Asn, Endpoint, Gbps, Id, Km, Latitude, Longitude, Mw, Share, StrictModel

Supernet = Annotated[IPv4Network, Field(strict=False, description="An IPv4 network in CIDR form, e.g. 10.0.0.0/10.")]

RENEWABLE_KINDS = frozenset({"solar_pv", "csp", "wind", "hydro"})


class Site(StrictModel):
    city: str
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    latitude: Latitude
    longitude: Longitude
    illustrative: bool = Field(False, description="True when the coordinates are a stand-in, not the real site.")


class Asns(StrictModel):
    edge: Asn = Field(description="The campus's own AS, announced to the landing-station peers.")
    fabric_base: Asn = Field(description="First private AS of the Ethernet fabric's leaf/spine numbering.")


class Addressing(StrictModel):
    """One supernet per network; the planner carves phase, hall and pod blocks out of each."""

    compute_fabric: Supernet
    storage: Supernet
    oob: Supernet
    wan_links: Supernet
    loopbacks: Supernet
    services: Supernet


class EnergySource(StrictModel):
    kind: Literal["solar_pv", "csp", "wind", "hydro", "grid", "gas"]
    share: Share = Field(description="Share of the campus's annual energy from this source.")
    capacity_mw: Mw | None = None


class Firming(StrictModel):
    kind: Literal["battery", "pumped_hydro", "grid", "gas"]
    power_mw: Mw
    energy_mwh: Annotated[float, Field(gt=0, le=1_000_000)] | None = None


class Energy(StrictModel):
    ppa_supplier: str
    contracted_mw: Mw | None = Field(None, description="Capacity under the PPA; None when not public.")
    declared_renewable_share: Share
    sources: Annotated[list[EnergySource], Field(min_length=1)]
    firming: list[Firming] = []


class LandingStationUse(StrictModel):
    id: Id
    peer_asn: Asn = Field(description="AS of the carrier router the campus edge peers with at this station.")
    backhaul_km: Km | None = Field(None, description="Terrestrial fibre route to the campus; None: great circle.")


class CableLease(StrictModel):
    id: Id = Field(description="Cable system id in the catalog.")
    landing_station: Id
    far_end: Id = Field(description="Hub id where the leased capacity ends.")
    leased_gbps: Gbps


class TerrestrialLink(StrictModel):
    a: Id
    b: Id
    km: Km | None = Field(None, description="Route length; None: great circle (a lower bound).")


class Region(StrictModel):
    id: Id
    name: str
    hubs: Annotated[list[Id], Field(min_length=1)]
    committed_egress_gbps: Gbps
    rtt_slo_ms: Annotated[float, Field(gt=0, le=1000)]
    prefixes: list[Supernet] = Field(
        [], description="Destinations that stand for this region in routing policy (the edge prefers its best path)."
    )


class Wan(StrictModel):
    landing_stations: list[LandingStationUse] = []
    cables: list[CableLease] = []
    hubs: list[Id] = []
    terrestrial: list[TerrestrialLink] = []
    regions: list[Region] = []
    announce: list[Supernet] = Field(
        [], description="Prefixes the campus edge announces to its peers; empty: the services supernet."
    )
    bfd_interval_ms: Annotated[int, Field(ge=10, le=10_000)] = Field(
        100, description="BFD transmit and receive interval on every eBGP session."
    )
    bfd_multiplier: Annotated[int, Field(ge=2, le=255)] = Field(
        3, description="Missed BFD packets before a session drops."
    )


class Lab(StrictModel):
    """How `kasbah lab` stands in for what the campus does not own: the carriers' routers at the landing stations
    and far-end hubs, and the links between them. None of it is deployed anywhere."""

    links: Supernet = Field(
        IPv4Network("198.51.100.0/24"),
        description="Addresses of the lab's emulated links (cables, terrestrial legs, edge interconnect, campus "
        "core), one /31 each; default TEST-NET-2 (RFC 5737), never routed on the Internet.",
    )
    hub_asn_base: Asn = Field(
        65100, description="AS of the first far-end hub in the lab; the others follow in the order of wan.hubs."
    )


class ObjectStorage(StrictModel):
    endpoint: Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?(/[!-~]*)?$")]
    region: str = "us-east-1"
    path_style: bool = True
    checkpoint_lock_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        30, description="Object Lock (compliance) retention of checkpoints: a campus policy, not a standard."
    )
    noncurrent_expire_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        30, description="Days a replaced object version is kept before it expires: a campus policy."
    )
    telemetry_expire_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        400, description="Days telemetry exports are kept: a campus policy (13 months covers a year-on-year view)."
    )


AlertOwner = Literal["compute", "fabric", "wan", "facility", "energy", "monitoring"]
"""The teams alerts are routed to (every alert carries one as its `owner` label)."""

# URL paths are printable ASCII (percent-encode the rest): a control character or line break would reach the
# rendered YAML and the consumer's URL parser.
WebhookUrl = Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?(/[!-~]*)?$")]
VaultVar = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$", description="An ansible-vault variable's name.")]


class AlertReceiver(StrictModel):
    """Where one owner's alerts go: Alertmanager webhooks (a paging or ticketing gateway). The URLs are not secrets;
    a bearer token, if the gateway wants one, is named by its vault variable and never written in a spec or render."""

    page_url: WebhookUrl | None = Field(None, description="Webhook for critical alerts.")
    ticket_url: WebhookUrl | None = Field(None, description="Webhook for warnings.")
    token_var: VaultVar | None = Field(None, description="Vault variable holding the gateway's bearer token.")


class Monitoring(StrictModel):
    """Alert thresholds; the defaults are the community values cited in the domain reference."""

    gpu_temp_warning_c: Annotated[float, Field(ge=30, le=120)] = 80
    gpu_temp_critical_c: Annotated[float, Field(ge=30, le=120)] = 85
    xid_critical: list[Annotated[int, Field(ge=1, le=1000)]] = [48, 64, 74, 79, 95, 119, 120]
    power_budget_warning: Annotated[float, Field(gt=0, le=1)] = 0.9
    pue_margin: Annotated[float, Field(ge=0, le=2)] = 0.1
    scrape_interval_s: Annotated[int, Field(ge=1, le=3600)] = 30
    receivers: dict[AlertOwner, AlertReceiver] = Field(
        {}, description="Per owner, where alerts are sent; an owner left out is visible in Alertmanager only."
    )
    energy_telemetry: Endpoint | None = Field(
        None, description="The campus intake's supply meters (Prometheus); default energy.<campus>.internal."
    )

    @model_validator(mode="after")
    def _warning_below_critical(self) -> Monitoring:
        if self.gpu_temp_warning_c >= self.gpu_temp_critical_c:
            raise ValueError(
                f"gpu_temp_warning_c ({self.gpu_temp_warning_c:g}) must be below gpu_temp_critical_c "
                f"({self.gpu_temp_critical_c:g})"
            )
        return self


class Campus(StrictModel):
    """The whole campus. Phases name this file and add to it."""

    name: Id
    site: Site
    asns: Asns
    design_pue: Annotated[float, Field(gt=0, le=10)] = Field(description="The campus's design PUE target.")
    addressing: Addressing
    energy: Energy
    wan: Wan
    object_storage: ObjectStorage
    monitoring: Monitoring = Monitoring()
    lab: Lab = Lab()
    catalog: Catalog = Field(
        default_factory=Catalog, description="Entries added to or overriding the built-in catalog."
    )

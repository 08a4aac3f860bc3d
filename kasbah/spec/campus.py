"""The campus spec: what every phase shares (site, ASNs, address space, energy, WAN, storage, monitoring)."""

from __future__ import annotations

from ipaddress import IPv4Network, ip_address, ip_network
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from kasbah.catalog.models import Catalog
from kasbah.spec.base import Asn, Endpoint, Gbps, HttpUrl, Id, Km, Latitude, Longitude, Mw, Share, StrictModel


def _cidr(value: Any) -> Any:
    """An IPv4 network written as text in CIDR form, with a message that says what is wrong: a number (YAML reads
    `10` as an int, which `IPv4Network` would take as 0.0.0.10/32), no prefix length, IPv6, or host bits set."""
    if isinstance(value, IPv4Network):
        return value
    if not isinstance(value, str):
        raise ValueError(f"write the network as text in CIDR form, e.g. 10.0.0.0/16 (got {value!r})")
    try:
        net = ip_network(value, strict=False)
    except ValueError:
        net = None
    if net is not None and net.version != 4:
        raise ValueError(f"'{value}' is an IPv6 network; Kasbah plans IPv4 address space only")
    if net is None or "/" not in value:
        if net is not None:
            raise ValueError(f"'{value}' has no prefix length: write the network in CIDR form, e.g. 10.0.0.0/16")
        raise ValueError(
            f"'{value}' is not an IPv4 network in CIDR form (four decimal octets 0-255 without leading zeros, "
            "then '/' and a prefix length 0-32)"
        )
    if ip_address(value.split("/")[0]) != net.network_address:
        raise ValueError(
            f"'{value}' has host bits set: the network it falls in is {net}; write that, or the prefix you meant"
        )
    return net


Supernet = Annotated[
    IPv4Network,
    BeforeValidator(_cidr),
    Field(strict=False, description="An IPv4 network in CIDR form, e.g. 10.0.0.0/10."),
]

RENEWABLE_KINDS = frozenset({"solar_pv", "csp", "wind", "hydro"})


class Site(StrictModel):
    city: str
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    latitude: Latitude
    longitude: Longitude
    altitude_m: Annotated[float, Field(ge=-500, le=9000)] | None = Field(
        None,
        description="Site elevation above sea level (clear-sky model); None: pvlib's bundled altitude map.",
    )
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
    round_trip_efficiency: Annotated[float, Field(gt=0, le=1)] = Field(
        0.85,
        description="Energy out / energy in of storage (battery, pumped hydro). Default 0.85: NREL's Annual "
        "Technology Baseline figure for utility-scale lithium-ion batteries.",
    )


MeasuredCsv = Annotated[
    str,
    Field(
        min_length=1,
        description="A measured hourly series, relative to the campus file: CSV with a header `timestamp,mw`, one "
        "row per hour of one year (8,760 rows, ISO 8601 timestamps); it wins over the model.",
    ),
]


class SolarPlant(StrictModel):
    """A PPA's solar PV plant, modelled with pvlib (clear sky x a seeded cloud model) unless `csv` is given."""

    mw: Mw | None = Field(None, description="AC capacity; None: derived from the source's annual share.")
    tracking: Literal["fixed", "single_axis"] = "fixed"
    tilt_deg: Annotated[float, Field(ge=0, le=90)] | None = Field(
        None, description="Fixed panels' tilt; None: the site's latitude (a common rule for annual yield)."
    )
    azimuth_deg: Annotated[float, Field(ge=0, lt=360)] = Field(
        180, description="Panels' facing (180: south); the tracker's axis runs north-south."
    )
    losses: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.14, description="System losses (soiling, wiring, inverter, availability). Default: PVWatts' 14 %."
    )
    mean_cloud_cover: Annotated[float, Field(ge=0, le=1)] = Field(
        0.3,
        description="Mean daily cloud cover (fraction of sky) of the seeded cloud model; set it from the site's "
        "climatology (e.g. ERA5 total cloud cover). The default is a placeholder, not a measured figure.",
    )
    csv: MeasuredCsv | None = None


class WindPlant(StrictModel):
    """A PPA's wind farm, modelled with windpowerlib (a bundled power curve, a seeded Weibull wind) unless `csv`."""

    mw: Mw | None = Field(None, description="Capacity; None: derived from the source's annual share.")
    turbine: str = Field(
        "SWT130/3600", description="A turbine type from windpowerlib's bundled power curves (its OEDB copy)."
    )
    hub_height_m: Annotated[float, Field(ge=10, le=300)] = 115
    mean_speed_ms: Annotated[float, Field(gt=0, le=30)] = Field(
        7.5,
        description="Annual mean wind speed at reference_height_m. Default: IEC 61400-1 class III's annual "
        "average (7.5 m/s); set it from a wind atlas or mast.",
    )
    reference_height_m: Annotated[float, Field(ge=1, le=300)] | None = Field(
        None, description="Height of mean_speed_ms; None: the hub height."
    )
    weibull_k: Annotated[float, Field(gt=0.5, le=10)] = Field(
        2.0, description="Weibull shape. Default 2 (Rayleigh), the IEC 61400-1 design assumption."
    )
    autocorrelation: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.9, description="Hour-to-hour (lag-1) correlation of the wind model's Gaussian process: a modelling choice."
    )
    hellman_exponent: Annotated[float, Field(gt=0, lt=1)] = Field(
        1 / 7, description="Wind shear exponent to the hub height. Default 1/7, the classic open-terrain value."
    )
    losses: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0, description="Wake and availability losses; default none (gross output)."
    )
    csv: MeasuredCsv | None = None


class HourlyEnergy(StrictModel):
    """Inputs of the hour-by-hour model (`kasbah energy`): plants, weather, the load's shape and the CFE target."""

    solar: SolarPlant | None = None
    wind: WindPlant | None = None
    target_cfe: Share | None = Field(
        None, description="Hourly-matched carbon-free share the campus aims for (Google's CFE score), e.g. 0.9."
    )
    utilisation: Share | Annotated[list[Share], Field(min_length=24, max_length=24)] = Field(
        1.0,
        description="IT load as a fraction of its budget: one figure, or 24 (hour of day, UTC). Default 1: the "
        "budget all year, the conservative case.",
    )
    gpu_cap_floor: Annotated[float, Field(gt=0, le=1)] = Field(
        0.7, description="The lowest GPU power cap the schedule may set, as a fraction of the GPU's maximum."
    )
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = Field(
        None, description="Seed of the weather models; None: derived from the campus name and site."
    )


class Energy(StrictModel):
    ppa_supplier: str
    contracted_mw: Mw | None = Field(None, description="Capacity under the PPA; None when not public.")
    declared_renewable_share: Share
    sources: Annotated[list[EnergySource], Field(min_length=1)]
    firming: list[Firming] = []
    hourly: HourlyEnergy | None = Field(
        None, description="Hour-by-hour supply model (plants, weather, load shape, target); None: annual shares only."
    )


class LandingStationUse(StrictModel):
    id: Id
    peer_asn: Asn = Field(description="AS of the carrier router the campus edge peers with at this station.")
    backhaul_km: Km | None = Field(
        None,
        description="Terrestrial fibre route to the campus; None: the planner's estimate (great circle x its "
        "route factor).",
    )
    max_prefixes: Annotated[int, Field(ge=1, le=10_000_000)] = Field(
        2_000_000,
        description="eBGP maximum-prefix for this peer: the session drops when it sends more routes than this. "
        "Default: a ceiling above a full IPv4 table; set it to what the carrier's contract says it sends.",
    )
    max_prefixes_warning_only: bool = Field(
        False, description="Only log when the peer sends more than max_prefixes, instead of dropping the session."
    )


class CableLease(StrictModel):
    id: Id = Field(description="Cable system id in the catalog.")
    landing_station: Id
    far_end: Id = Field(description="Hub id where the leased capacity ends.")
    leased_gbps: Gbps


class TerrestrialLink(StrictModel):
    """An onward leg between two hubs (land or another carrier's cable), and the transit the campus contracted on it."""

    a: Id
    b: Id
    km: Km | None = Field(
        None, description="Route length; None: the planner's estimate (great circle x its route factor)."
    )
    capacity_gbps: Annotated[float, Field(ge=0, le=10_000_000)] = Field(
        0,
        description="Transit contracted on the leg, Gb/s in each direction it carries; 0 (the default): none, so "
        "routes over it count for latency but add nothing to a region's capacity.",
    )
    direction: Literal["both", "a-to-b", "b-to-a"] = Field(
        "both", description="Which way the contracted transit carries traffic away from the campus."
    )


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
    endpoint: HttpUrl = Field(description="The S3 API's URL, e.g. https://s3.casablanca-ai.internal.")
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

WebhookUrl = HttpUrl
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

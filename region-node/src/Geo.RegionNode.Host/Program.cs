using Geo.Hosting;
using Geo.RegionNode;

// geo-region [--ConfigFile /etc/geo/geo-region.json] [--check-config]
return await GeoService.RunAsync("geo-region", args, a => RegionNodeServer.Create(a));

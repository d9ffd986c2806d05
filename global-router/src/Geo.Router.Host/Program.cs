using Geo.Hosting;
using Geo.Router;

// geo-router [--ConfigFile /etc/geo/geo-router.json] [--check-config]
return await GeoService.RunAsync("geo-router", args, a => RouterServer.Create(a));

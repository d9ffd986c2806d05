using System.Runtime.CompilerServices;

// The NAS configuration generator is internal to geoctl and unit-tested from Geo.Ctl.Tests.
[assembly: InternalsVisibleTo("Geo.Ctl.Tests")]

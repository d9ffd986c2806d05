using System.Net;

namespace Geo.RegionNode.Shards;

/// <summary>Where a region's nodes take RADIUS and their API (from the directory's regions).</summary>
internal sealed record RegionEndpoint(string Id, IPAddress Address, int AuthPort, int AcctPort, Uri ApiUrl);

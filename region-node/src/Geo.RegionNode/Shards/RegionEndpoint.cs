using System.Net;

namespace Geo.RegionNode.Shards;

/// <summary>Where a region's nodes take RADIUS (from the directory's regions table).</summary>
internal sealed record RegionEndpoint(string Id, IPAddress Address, int AuthPort, int AcctPort);

using Geo.Rating;
using Geo.RegionNode.Accounting;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.ChangeOfAuthorization;

/// <summary>
/// Turns committed decisions into requests to the session's NAS: the plan's exhaustion action (Disconnect-Request,
/// or CoA-Request with the throttled rate), or a Disconnect-Request when an operator suspends or deletes a subscriber.
/// </summary>
internal sealed class ExhaustionDispatcher(ShardCatalog catalog, ChangeRequestSender sender)
{
    /// <summary>Sends a recorded Disconnect-Request for a session.</summary>
    public void Disconnect(ShardHandle shard, Guid requestId, string nasId, string username, string acctSessionId, System.Net.IPAddress? framedIp)
    {
        if (catalog.TryGetNas(shard.TenantId, nasId, out var nas))
        {
            sender.Enqueue(new ChangeRequest(requestId, shard, nas, true, username, acctSessionId, framedIp, null, null));
        }
    }

    public void Dispatch(ShardHandle shard, ExhaustionRequest exhausted)
    {
        if (!catalog.TryGetNas(shard.TenantId, exhausted.Session.NasId, out var nas))
        {
            return;
        }

        var plan = exhausted.Plan;
        var disconnect = plan.Tariff.Exhaustion == ExhaustionAction.Disconnect;
        sender.Enqueue(new ChangeRequest(exhausted.RequestId, shard, nas, disconnect, exhausted.Session.Username, exhausted.Session.AcctSessionId,
            exhausted.Session.FramedIp, plan.ThrottleDownloadKbps, plan.ThrottleUploadKbps));
    }
}

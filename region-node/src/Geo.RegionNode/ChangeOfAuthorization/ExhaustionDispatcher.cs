using Geo.Rating;
using Geo.RegionNode.Accounting;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.ChangeOfAuthorization;

/// <summary>Turns a committed exhaustion into the plan's action on the session's NAS: Disconnect-Request, or CoA-Request with the throttled rate.</summary>
internal sealed class ExhaustionDispatcher(ShardCatalog catalog, ChangeRequestSender sender)
{
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

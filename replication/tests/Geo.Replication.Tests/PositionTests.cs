using Geo.Replication.Applying;
using Geo.Replication.Changes;
using Geo.Replication.Kafka;
using Geo.Replication.PgOutput;

namespace Geo.Replication.Tests;

public sealed class PositionTests
{
    [Theory]
    [InlineData(0UL, "0/0")]
    [InlineData(0x16B374D848UL, "16/B374D848")]
    [InlineData(ulong.MaxValue, "FFFFFFFF/FFFFFFFF")]
    public void Lsn_FormatThenParse_RoundTrips(ulong value, string text)
    {
        Assert.Equal(text, Lsn.Format(value));
        Assert.True(Lsn.TryParse(text, out var parsed));
        Assert.Equal(value, parsed);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("16")]
    [InlineData("/1")]
    [InlineData("1/")]
    [InlineData("G/1")]
    [InlineData("{\"offsets\":{}}")]
    public void Lsn_TryParse_NotAnLsn_ReturnsFalse(string? text) => Assert.False(Lsn.TryParse(text, out _));

    [Fact]
    public void KafkaPosition_ToTokenThenTryParse_RoundTrips()
    {
        var position = new KafkaPosition(0x1_0000_0010, new Dictionary<string, long> { ["geo.public.plans/3"] = 17, ["geo.transaction/0"] = 4 });

        Assert.True(KafkaPosition.TryParse(position.ToToken(), out var parsed));

        Assert.Equal(position.Lsn, parsed.Lsn);
        Assert.Equal(position.NextOffsets.OrderBy(o => o.Key), parsed.NextOffsets.OrderBy(o => o.Key));
    }

    [Theory]
    [InlineData("0/16B3748")]
    [InlineData("{not json")]
    [InlineData("{\"lsn\":\"0/1\"}")]
    public void KafkaPosition_TryParse_NotAKafkaPosition_ReturnsFalse(string token) => Assert.False(KafkaPosition.TryParse(token, out _));

    [Fact]
    public void PositionTokens_LsnOf_ReadsBothKinds()
    {
        Assert.Equal(0x16B3748UL, PositionTokens.LsnOf("0/16B3748"));
        Assert.Equal(42UL, PositionTokens.LsnOf(new KafkaPosition(42, new Dictionary<string, long>()).ToToken()));
        Assert.Equal(0UL, PositionTokens.LsnOf("garbage"));
    }

    [Theory]
    [InlineData("geo_acme_a", "b", "geo_acme_a_to_b")]
    [InlineData("geo_acme_a", "eu-west", "geo_acme_a_to_eu_west")]
    [InlineData("Other", "b", "geo_other_to_b")]
    public void DefaultSlotName_DatabaseAndRegion_IsAValidSlotName(string database, string region, string expected)
    {
        var name = ReplicationSlots.DefaultSlotName(database, region);

        Assert.Equal(expected, name);
        Assert.True(SqlIdentifier.IsSimpleName(name));
    }

    [Fact]
    public void DefaultSlotName_LongNames_CutTo63Characters() =>
        Assert.Equal(63, ReplicationSlots.DefaultSlotName("geo_" + new string('x', 80), "b").Length);

    [Theory]
    [InlineData("00000003-00000002-1", true)]
    [InlineData("0000000A-0000001F-12", true)]
    [InlineData("x'; DROP TABLE plans; --", false)]
    [InlineData("", false)]
    public void IsSnapshotName_OnlyPostgresSnapshotIds(string name, bool expected) => Assert.Equal(expected, PgOutputSource.IsSnapshotName(name));

    [Theory]
    [InlineData("c", ChangeOperation.Create)]
    [InlineData("u", ChangeOperation.Update)]
    [InlineData("d", ChangeOperation.Delete)]
    [InlineData("t", ChangeOperation.Truncate)]
    [InlineData("r", ChangeOperation.Read)]
    public void ChangeOperationCodes_ParseThenFormat_RoundTrips(string code, ChangeOperation operation)
    {
        Assert.True(ChangeOperationCodes.TryParse(code, out var parsed));
        Assert.Equal(operation, parsed);
        Assert.Equal(code[0], parsed.ToCode());
    }

    [Fact]
    public void ChangeOperationCodes_Message_NotAChange() => Assert.False(ChangeOperationCodes.TryParse("m", out _));
}

public sealed class DebeziumConnectorConfigTests
{
    [Fact]
    public void Create_Shard_ConfiguresWhatTheKafkaSourceReads()
    {
        var body = DebeziumConnectorConfig.Create(new DebeziumConnectorSettings
        {
            Database = "geo_acme_a",
            Host = "pg-a.internal",
            Tables = ["public.plans", "public.subscribers"],
        });
        var config = body["config"]!.AsObject();

        Assert.Equal("geo-geo-acme-a", (string?)body["name"]);
        Assert.Equal("pgoutput", (string?)config["plugin.name"]);
        Assert.Equal("geo_acme_a", (string?)config["topic.prefix"]);
        Assert.Equal("true", (string?)config["provide.transaction.metadata"]);
        Assert.Equal("string", (string?)config["decimal.handling.mode"]);
        Assert.Equal("base64", (string?)config["binary.handling.mode"]);
        Assert.Equal("none", (string?)config["skipped.operations"]);
        Assert.Equal("public.plans,public.subscribers", (string?)config["table.include.list"]);
        Assert.Equal("1", (string?)config["topic.creation.transaction.partitions"]);
        Assert.StartsWith("${file:", (string?)config["database.password"], StringComparison.Ordinal);
    }
}

using Geo.RegionNode.Accounting;
using Npgsql;

namespace Geo.RegionNode.Tests;

public sealed class AccountingWriterTests
{
    [Theory]
    [InlineData("23503", true)] // a reference the request breaks (a subscriber the shard does not hold)
    [InlineData("23514", true)] // a check constraint
    [InlineData("22021", true)] // a byte sequence the encoding refuses (a NUL)
    [InlineData("22003", true)] // a number out of range
    [InlineData("23505", false)] // a unique key: a race with another node, retried, never one request's fault
    [InlineData("40P01", false)] // a deadlock
    [InlineData("57P01", false)] // the server shutting down
    [InlineData("53300", false)] // too many connections
    public void IsRequestFault_PostgresError_OnlyWhatOneRequestsContentCauses(string sqlState, bool expected) =>
        Assert.Equal(expected, AccountingWriter.IsRequestFault(new PostgresException("test", "ERROR", "ERROR", sqlState)));

    [Fact]
    public void IsRequestFault_OwnArithmeticOrArgumentCheck_IsTheRequests() =>
        Assert.True(AccountingWriter.IsRequestFault(new OverflowException()) && AccountingWriter.IsRequestFault(new ArgumentOutOfRangeException("x")));

    [Fact]
    public void IsRequestFault_ConnectionLostOrRaceOrFence_IsNot()
    {
        Assert.False(AccountingWriter.IsRequestFault(new NpgsqlException("connection lost", new IOException())));
        Assert.False(AccountingWriter.IsRequestFault(new TimeoutException()));
        Assert.False(AccountingWriter.IsRequestFault(new WriteConflictException(1)));
        Assert.False(AccountingWriter.IsRequestFault(new FencedException(3, 4)));
    }
}

using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Geo.Radius;
using Geo.Radius.Dictionary;

namespace Geo.LoadTests.Radius;

/// <summary>What a NAS sends when a subscriber logs in, and the schedule a NAS releases its subscribers on.</summary>
internal static class NasLogin
{
    /// <summary>A PAP Access-Request with Message-Authenticator; returns its length in <paramref name="buffer"/>.</summary>
    public static int AccessRequest(byte[] buffer, byte identifier, string username, string password, byte[] secret, IPAddress nasAddress)
    {
        var request = new RadiusPacketWriter(buffer, RadiusCode.AccessRequest, identifier, RandomNumberGenerator.GetBytes(16));
        request.AddString(RadiusAttributeType.UserName, username);
        request.AddUserPassword(Encoding.UTF8.GetBytes(password), secret);
        request.AddIPv4Address(RadiusAttributeType.NasIpAddress, nasAddress);
        request.AddMessageAuthenticator();
        return request.FinishRequest(secret);
    }

    /// <summary>The Accounting-Start of the session an Access-Accept opened, with the accept's Class; returns its length.</summary>
    public static int AccountingStart(byte[] buffer, byte identifier, string username, string? sessionClass, string sessionId, byte[] secret, IPAddress nasAddress)
    {
        var start = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, identifier);
        start.AddString(RadiusAttributeType.UserName, username);
        if (sessionClass is not null)
        {
            start.AddString(RadiusAttributeType.Class, sessionClass);
        }

        start.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)AcctStatusType.Start);
        start.AddString(RadiusAttributeType.AcctSessionId, sessionId);
        start.AddIPv4Address(RadiusAttributeType.NasIpAddress, nasAddress);
        return start.FinishRequest(secret);
    }

    /// <summary>
    /// Calls <paramref name="release"/> for 0 .. <paramref name="count"/> − 1 at <paramref name="rate"/> a second from
    /// <paramref name="started"/>, whatever the server's pace (a late answer does not slow the releases), on a thread of
    /// its own (a pool thread would be held for the whole run).
    /// </summary>
    public static Task ReleaseAsync(int count, int rate, long started, Action<int> release, CancellationToken cancellationToken)
    {
        var interval = Stopwatch.Frequency / (double)rate;
        return Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < count && !cancellationToken.IsCancellationRequested; i++)
            {
                var wait = started + (long)(i * interval) - Stopwatch.GetTimestamp();
                if (wait > Stopwatch.Frequency / 1000)
                {
                    Thread.Sleep(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
                }

                release(i);
            }
        }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }
}

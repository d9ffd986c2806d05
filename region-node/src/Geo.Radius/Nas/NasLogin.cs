using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Geo.Radius.Dictionary;

namespace Geo.Radius.Nas;

/// <summary>What a NAS sends when a subscriber logs in, and the schedule a NAS releases its subscribers on.</summary>
public static class NasLogin
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
    public static int AccountingStart(byte[] buffer, byte identifier, string username, string? sessionClass, string sessionId, byte[] secret, IPAddress nasAddress) =>
        Accounting(buffer, identifier, AcctStatusType.Start, username, sessionClass, sessionId, default, secret, nasAddress);

    /// <summary>An Accounting-On or -Off of the NAS as a whole (the server closes every session it has open for it); returns its length.</summary>
    public static int NasStatus(byte[] buffer, byte identifier, AcctStatusType status, string sessionId, byte[] secret, IPAddress nasAddress)
    {
        var request = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, identifier);
        request.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)status);
        request.AddString(RadiusAttributeType.AcctSessionId, sessionId);
        request.AddIPv4Address(RadiusAttributeType.NasIpAddress, nasAddress);
        return request.FinishRequest(secret);
    }

    /// <summary>
    /// An Accounting-Request of a session (Start, Interim-Update or Stop) carrying the accept's Class and, past the Start, the
    /// session's cumulative counters (octets beyond 32 bits in the Gigawords attributes, as a NAS sends them); returns its length.
    /// </summary>
    public static int Accounting(byte[] buffer, byte identifier, AcctStatusType status, string username, string? sessionClass, string sessionId,
        SessionCounters counters, byte[] secret, IPAddress nasAddress)
    {
        var request = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, identifier);
        request.AddString(RadiusAttributeType.UserName, username);
        if (sessionClass is not null)
        {
            request.AddString(RadiusAttributeType.Class, sessionClass);
        }

        request.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)status);
        request.AddString(RadiusAttributeType.AcctSessionId, sessionId);
        request.AddIPv4Address(RadiusAttributeType.NasIpAddress, nasAddress);
        if (status != AcctStatusType.Start)
        {
            request.AddUInt32(RadiusAttributeType.AcctInputOctets, (uint)counters.InputOctets);
            request.AddUInt32(RadiusAttributeType.AcctInputGigawords, (uint)(counters.InputOctets >> 32));
            request.AddUInt32(RadiusAttributeType.AcctOutputOctets, (uint)counters.OutputOctets);
            request.AddUInt32(RadiusAttributeType.AcctOutputGigawords, (uint)(counters.OutputOctets >> 32));
            request.AddUInt32(RadiusAttributeType.AcctSessionTime, (uint)counters.SessionSeconds);
        }

        return request.FinishRequest(secret);
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

/// <summary>A session's cumulative usage as its NAS reports it in Interim-Updates and the Stop.</summary>
public readonly record struct SessionCounters(long InputOctets, long OutputOctets, long SessionSeconds);

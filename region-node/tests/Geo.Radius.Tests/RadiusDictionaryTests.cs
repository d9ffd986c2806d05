using Geo.Radius.Dictionary;

namespace Geo.Radius.Tests;

public sealed class RadiusDictionaryTests
{
    // Numbers checked against the FreeRADIUS dictionaries (dictionary.rfc2865, .rfc2866, .rfc2869, .rfc3576,
    // .mikrotik, .wispr, .cisco, .juniper, .erx).
    [Theory]
    [InlineData("User-Name", 0u, 1, RadiusDataType.Text)]
    [InlineData("User-Password", 0u, 2, RadiusDataType.Octets)]
    [InlineData("Vendor-Specific", 0u, 26, RadiusDataType.VendorSpecific)]
    [InlineData("Acct-Status-Type", 0u, 40, RadiusDataType.Integer32)]
    [InlineData("Acct-Input-Gigawords", 0u, 52, RadiusDataType.Integer32)]
    [InlineData("Event-Timestamp", 0u, 55, RadiusDataType.Time)]
    [InlineData("EAP-Message", 0u, 79, RadiusDataType.Octets)]
    [InlineData("Message-Authenticator", 0u, 80, RadiusDataType.Octets)]
    [InlineData("Error-Cause", 0u, 101, RadiusDataType.Integer32)]
    [InlineData("Mikrotik-Rate-Limit", 14988u, 8, RadiusDataType.Text)]
    [InlineData("Mikrotik-Address-List", 14988u, 19, RadiusDataType.Text)]
    [InlineData("Cisco-AVPair", 9u, 1, RadiusDataType.Text)]
    [InlineData("Juniper-Local-User-Name", 2636u, 1, RadiusDataType.Text)]
    [InlineData("ERX-Ingress-Policy-Name", 4874u, 10, RadiusDataType.Text)]
    [InlineData("ERX-Egress-Policy-Name", 4874u, 11, RadiusDataType.Text)]
    [InlineData("ERX-Qos-Profile-Name", 4874u, 26, RadiusDataType.Text)]
    [InlineData("WISPr-Location-ID", 14122u, 1, RadiusDataType.Text)]
    [InlineData("WISPr-Location-Name", 14122u, 2, RadiusDataType.Text)]
    [InlineData("WISPr-Bandwidth-Max-Up", 14122u, 7, RadiusDataType.Integer32)]
    [InlineData("WISPr-Bandwidth-Max-Down", 14122u, 8, RadiusDataType.Integer32)]
    [InlineData("WISPr-Session-Terminate-Time", 14122u, 9, RadiusDataType.Text)]
    public void TryGetAttribute_ByName_ReturnsNumberAndType(string name, uint vendorId, byte type, RadiusDataType dataType)
    {
        Assert.True(RadiusDictionary.TryGetAttribute(name.ToUpperInvariant(), out var definition));

        Assert.Equal(name, definition.Name);
        Assert.Equal(vendorId, definition.VendorId);
        Assert.Equal(type, definition.Type);
        Assert.Equal(dataType, definition.DataType);

        var byNumber = vendorId == 0
            ? RadiusDictionary.TryGetAttribute(type, out var found) ? found : default
            : RadiusDictionary.TryGetVendorAttribute(vendorId, type, out found) ? found : default;
        Assert.Equal(definition, byNumber);
    }

    [Fact]
    public void All_NamesAndNumbers_AreUnique()
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var numbers = new HashSet<(uint, byte)>();

        foreach (var definition in RadiusDictionary.All)
        {
            Assert.True(names.Add(definition.Name), definition.Name);
            Assert.True(numbers.Add((definition.VendorId, definition.Type)), definition.Name);
            if (definition.IsVendorSpecific)
            {
                Assert.True(RadiusDictionary.TryGetVendorName(definition.VendorId, out _), definition.Name);
            }
        }
    }

    [Fact]
    public void TryGetAttribute_UnknownNumbers_ReturnFalse()
    {
        Assert.False(RadiusDictionary.TryGetAttribute(17, out _));
        Assert.False(RadiusDictionary.TryGetAttribute(255, out _));
        Assert.False(RadiusDictionary.TryGetVendorAttribute(RadiusVendorId.Mikrotik, 200, out _));
        Assert.False(RadiusDictionary.TryGetVendorAttribute(1, 1, out _));
        Assert.False(RadiusDictionary.TryGetAttribute("No-Such-Attribute", out _));
    }

    [Fact]
    public void Values_WellKnownNumbers_MatchTheRfcs()
    {
        Assert.Equal(1, (int)AcctStatusType.Start);
        Assert.Equal(2, (int)AcctStatusType.Stop);
        Assert.Equal(3, (int)AcctStatusType.InterimUpdate);
        Assert.Equal(7, (int)AcctStatusType.AccountingOn);
        Assert.Equal(8, (int)AcctStatusType.AccountingOff);
        Assert.Equal(2, (int)ServiceType.FramedUser);
        Assert.Equal(17, (int)ServiceType.AuthorizeOnly);
        Assert.Equal(1, (int)FramedProtocol.Ppp);
        Assert.Equal(6, (int)AcctTerminateCause.AdminReset);
        Assert.Equal(201, (int)ErrorCause.ResidualSessionContextRemoved);
        Assert.Equal(503, (int)ErrorCause.SessionContextNotFound);
        Assert.Equal(508, (int)ErrorCause.MultipleSessionSelectionUnsupported);
    }

    [Fact]
    public void RadiusCode_Classification_MatchesRfcRoles()
    {
        Assert.Equal(40, (int)RadiusCode.DisconnectRequest);
        Assert.Equal(45, (int)RadiusCode.CoANak);
        Assert.True(RadiusCode.StatusServer.IsRequest());
        Assert.True(RadiusCode.CoAAck.IsResponse());
        Assert.False(RadiusCode.AccessRequest.HasComputedRequestAuthenticator());
        Assert.True(RadiusCode.DisconnectRequest.HasComputedRequestAuthenticator());
        Assert.False(((RadiusCode)13).IsKnown());
    }
}

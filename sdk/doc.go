// Package sdk is what a Gaia service imports to answer "may this caller do
// that?" locally: it verifies Gaia IAM access tokens and decides
// HasPermission in an embedded OPA evaluator fed by the IAM's signed policy
// bundle. It never calls the IAM per request; the JWKS and the bundle are
// fetched in the background and the last good copies keep answering when the
// IAM is down. Until a first bundle is loaded, every check is denied.
//
// A service guarding its routes:
//
//	func main() {
//		ctx := context.Background()
//		authz, err := sdk.New(ctx, sdk.Config{IAMURL: "http://127.0.0.1:8080", PollInterval: 10 * time.Second})
//		if err != nil {
//			log.Fatal(err)
//		}
//		defer authz.Close()
//		r := gin.Default()
//		r.GET("/items", authz.Require("inventory.read"), listItems)
//		r.POST("/items", authz.Require("inventory.write"), createItem)
//		log.Fatal(r.Run("127.0.0.1:8081"))
//	}
//
// Inside a handler, sdk.PrincipalFrom(ctx) says who is calling.
//
// This package imports nothing from the IAM's internal packages: it is the
// public contract between the IAM and the services that trust it.
package sdk

package storetest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/pgtest"
	"github.com/parleychat/parley/internal/store/postgres"
	"github.com/parleychat/parley/internal/store/sqlite"
	"github.com/parleychat/parley/internal/store/storetest"
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, migratePostgres))
}

// migratePostgres migrates the template once, not every test's database.
func migratePostgres(url string) error {
	db, err := postgres.Open(context.Background(), url, nil)
	if err != nil {
		return err
	}
	return db.Close()
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Name: "sqlite",
		NewDatabase: func(t testing.TB) storetest.Opener {
			path := filepath.Join(t.TempDir(), "parley.db")
			return func(hook store.CommitHook) (store.Store, error) { return sqlite.Open(path, hook) }
		},
	})
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Name: "postgres",
		NewDatabase: func(t testing.TB) storetest.Opener {
			url := pgtest.NewDatabase(t)
			return func(hook store.CommitHook) (store.Store, error) {
				return postgres.Open(context.Background(), url, hook)
			}
		},
		Shared: true,
	})
}
